"""The terms of the latency model: what each operation of a graph asks of a device, before efficiencies.

A prediction is a weighted sum of ten terms (``TERMS``), each in seconds at weight 1::

    conv3x3, conv, pointwise,      FLOPs of that kind of multiply-accumulate op / peak FLOP/s
      depthwise, gemm
    vector                         FLOPs of every other op (activations, pooling, softmax, ...) / peak
    activations                    activation bytes each op reads and writes / memory bandwidth
    weights                        weight bytes each op reads / memory bandwidth
    ops                            number of executed (unfused) ops x 1 us
    inference                      1 ms, once

The weights are a device's coefficients: 1 / efficiency per kind, memory bandwidth / stream rate (activations)
and / weight rate, the per-op overhead in us and the per-inference overhead in ms. The same terms serve the
prediction (perf.py) and the fit to published figures (calibration.py), so the two cannot disagree.
"""

from __future__ import annotations

import numpy as np

from simulator.profiles.costs import MAC_KINDS, GraphCosts, OpCost
from simulator.profiles.schema import CpuSpec, Efficiency, GpuSpec

TERMS = ("conv3x3", "conv", "pointwise", "depthwise", "gemm", "vector", "activations", "weights", "ops", "inference")
BYTES = {"FP32": 4, "FP16": 2, "INT8": 1}
_INDEX = {name: i for i, name in enumerate(TERMS)}


def op_terms(op: OpCost, peak_flops: float, precision: str, bandwidth_gbps: float) -> np.ndarray:
    """The terms of one executed op (seconds at weight 1)."""
    x = np.zeros(len(TERMS))
    x[_INDEX[op.kind if op.kind in MAC_KINDS else "vector"]] = op.flops / peak_flops
    x[_INDEX["activations"]] = (op.in_elems + op.out_elems) * BYTES[precision] / (bandwidth_gbps * 1e9)
    x[_INDEX["weights"]] = op.weight_elems * BYTES[precision] / (bandwidth_gbps * 1e9)
    x[_INDEX["ops"]] = 1e-6
    return x


def graph_terms(costs: GraphCosts, spec: CpuSpec | GpuSpec, precision: str, bandwidth_gbps: float) -> np.ndarray:
    """The summed terms of every executed op of ``costs`` on ``spec`` at ``precision``, plus the inference term."""
    peak = spec.peak_gflops_at(precision) * 1e9
    total = np.zeros(len(TERMS))
    for op in costs.ops:
        if op.kind != "fused":
            total += op_terms(op, peak, precision, bandwidth_gbps)
    total[_INDEX["inference"]] = 1e-3
    return total


def coefficients(spec: CpuSpec | GpuSpec, bandwidth_gbps: float) -> np.ndarray:
    """The weights of ``spec``'s description: 1/efficiency per kind, bandwidth/stream rate, overheads."""
    eff = spec.efficiency
    stream = spec.stream_gbps or bandwidth_gbps
    weights = spec.weight_gbps or bandwidth_gbps
    return np.array([1 / eff.for_kind("conv3x3"), 1 / eff.for_kind("conv"), 1 / eff.for_kind("pointwise"),
                     1 / eff.for_kind("depthwise"), 1 / eff.for_kind("gemm"), 1 / eff.for_kind("elementwise"),
                     bandwidth_gbps / stream, bandwidth_gbps / weights, spec.op_overhead_us,
                     spec.inference_overhead_ms])


def description(theta: np.ndarray, bandwidth_gbps: float, digits: int = 4) -> dict:
    """The profile fields (``efficiency``, stream rates, overheads) that weights ``theta`` stand for."""
    eff = {kind: round(float(1 / theta[_INDEX[kind]]), digits) for kind in MAC_KINDS}
    vector = round(float(1 / theta[_INDEX["vector"]]), digits)
    eff.update(elementwise=vector, pool=vector, data=vector, other=vector)
    return {"efficiency": Efficiency(**eff),
            "stream_gbps": round(float(bandwidth_gbps / theta[_INDEX["activations"]]), 3),
            "weight_gbps": round(float(bandwidth_gbps / theta[_INDEX["weights"]]), 3),
            "op_overhead_us": round(float(theta[_INDEX["ops"]]), 2),
            "inference_overhead_ms": round(float(theta[_INDEX["inference"]]), 3)}
