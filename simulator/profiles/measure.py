"""Measure a graph's latency on this host (OpenVINO CPU, f32 precision hint, latency mode).

The ``host`` profile's "prediction" is this measurement, made with the process's one OpenVINO Core
(``simulator.inference.devices.core()``). The f32 hint matters: on CPUs with AMX the plugin
otherwise runs bf16 and the numbers are not comparable between machines::

    ms = measure_host_ms(graph, iterations=20)      # median of 20 synchronous inferences
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import openvino as ov

from simulator.inference.devices import compile_model, core


def read_graph(path: str | Path) -> ov.Model:
    """Read an IR (.xml), ONNX, TFLite, TF frozen .pb or PaddlePaddle model file."""
    return core().read_model(str(path))


def _dummy_input(port: ov.Output, rng: np.random.Generator) -> np.ndarray:
    pshape = port.get_partial_shape()
    shape = [d.get_length() if d.is_static else 1 for d in pshape]
    dtype = port.get_element_type().to_dtype()
    if np.issubdtype(dtype, np.floating):
        return rng.random(shape, dtype=np.float32).astype(dtype)
    if dtype == np.bool_:
        return np.zeros(shape, dtype=dtype)
    return rng.integers(0, 128, size=shape).astype(dtype)


def compile_for_host(graph: ov.Model, threads: int | None = None) -> ov.CompiledModel:
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = str(int(threads))
    return compile_model(graph, "CPU", config)


def measure_host_ms(graph: ov.Model | ov.CompiledModel, iterations: int = 20, warmup: int = 3,
                    threads: int | None = None, statistic: str = "median") -> float:
    """Wall time of one synchronous inference in ms (``median`` or ``min`` of ``iterations`` runs, after
    ``warmup`` untimed ones). ``min`` is the robust choice on a busy machine: other load only adds time."""
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    if statistic not in ("median", "min"):
        raise ValueError(f"statistic must be 'median' or 'min', got {statistic!r}")
    compiled = graph if isinstance(graph, ov.CompiledModel) else compile_for_host(graph, threads)
    rng = np.random.default_rng(0)
    inputs = {i: _dummy_input(port, rng) for i, port in enumerate(compiled.inputs)}
    request = compiled.create_infer_request()
    for _ in range(warmup):
        request.infer(inputs)
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        request.infer(inputs)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times) if statistic == "median" else min(times)
