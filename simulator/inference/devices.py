"""One OpenVINO Core per process, the device a Lambda's ``loading_config`` maps to, and compile settings.

``{"GPU": 1}`` runs on OpenVINO's GPU device when this machine has one, on the CPU otherwise (said once).
``DEEPLENS_SIM_PRECISION`` (``f32``, ``f16``, ``bf16``) sets the inference precision hint; tests set ``f32``
because on CPUs with AMX the CPU plugin otherwise runs bf16 and numbers differ from run to run of other machines.
``DEEPLENS_SIM_CPU_THREADS`` (set by ``--cpu-threads``; a fleet sets it to the cores per device) caps the CPU
plugin's inference threads and lets the system place them instead of pinning them to cores: Lambdas that share
the cores then take turns instead of each spreading every layer over all of them and waiting on one another.
"""

from __future__ import annotations

import functools
import logging
import os

import openvino as ov

from simulator.config import CPU_THREADS_ENV as THREADS_ENV

log = logging.getLogger(__name__)


@functools.cache
def core() -> ov.Core:
    from simulator.inference.store import ov_cache_dir

    c = ov.Core()
    c.set_property({"CACHE_DIR": str(ov_cache_dir())})
    return c


@functools.cache
def resolve_device(requested: str) -> str:
    """'GPU' if asked for and present, else 'CPU' (logged once per process)."""
    available = core().available_devices
    if requested == "GPU":
        if any(d.startswith("GPU") for d in available):
            return "GPU"
        log.warning("no OpenVINO GPU device on this machine (have: %s): models asked for the GPU run on the CPU",
                    ", ".join(available))
    return "CPU"


def cpu_threads() -> int | None:
    """The CPU inference threads asked for by ``DEEPLENS_SIM_CPU_THREADS`` (None: OpenVINO's choice)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{THREADS_ENV}={raw!r}: expected a whole number of threads, 1 or more")
    return int(raw)


def compile_config(device: str = "CPU") -> dict[str, str]:
    """Compile settings: latency mode, the precision hint if one is set, and on the CPU the thread cap if one is
    set (with the threads left unpinned)."""
    precision = os.environ.get("DEEPLENS_SIM_PRECISION")
    config: dict[str, str] = {"PERFORMANCE_HINT": "LATENCY"}
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    threads = cpu_threads()
    if threads is not None and device == "CPU":
        config["INFERENCE_NUM_THREADS"] = str(threads)
        config["ENABLE_CPU_PINNING"] = "NO"
    return config


def compile_model(model: ov.Model | str, device: str) -> ov.CompiledModel:
    return core().compile_model(model, device, compile_config(device))
