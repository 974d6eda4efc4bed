"""Predict how long one inference of an OpenVINO graph takes on a profile's CPU or GPU.

Per executed operation (features.py)::

    time = flops / (peak_gflops[precision] x efficiency[kind])
           + activation bytes / stream_gbps + weight bytes / weight_gbps + op_overhead

summed over the graph, plus a fixed per-inference overhead. Efficiencies are fitted to published figures only
(docs/performance-model.md). A profile that describes no device (``host``) is measured, not predicted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import openvino as ov

from simulator.profiles.costs import GraphCosts, graph_costs
from simulator.profiles.features import TERMS, coefficients, op_terms
from simulator.profiles.schema import PRECISIONS, CpuSpec, GpuSpec, Profile


@dataclass(frozen=True)
class Prediction:
    ms: float | None  # None: a measured profile (host) and no measurement given
    flops: int
    params: int
    device: str  # CPU | GPU: where it is predicted to run
    precision: str  # FP32 | FP16 | INT8: the precision it is predicted to run at
    profile: str
    breakdown: dict[str, float] = field(default_factory=dict)  # ms per kind of operation
    bound: dict[str, int] = field(default_factory=dict)  # ops limited by "compute" / "memory"
    measured: bool = False  # True: ``ms`` is a measurement on this host, not a prediction
    note: str = ""

    @property
    def fps(self) -> float | None:
        return 1000.0 / self.ms if self.ms else None


def precision_from_name(path: str) -> str | None:
    """The precision a DeepLens IR name announces (``..._FP16_FUSED.xml`` -> FP16), else None."""
    match = re.search(r"(?:^|[_\-.])(FP32|FP16|INT8)(?:$|[_\-.])", str(path).rsplit("/", 1)[-1], re.IGNORECASE)
    return match.group(1).upper() if match else None


def resolve(profile: Profile, device: str, precision: str | None, costs: GraphCosts) -> tuple[str, str, str]:
    """(device, precision, note) that the inference would really use on ``profile``."""
    device = device.upper()
    notes = []
    if device not in ("CPU", "GPU"):
        raise ValueError(f"device must be CPU or GPU, got {device!r}")
    if profile.device(device) is None:
        other = "CPU" if device == "GPU" else "GPU"
        notes.append(f"profile '{profile.name}' has no {device}: predicted on its {other}")
        device = other
    spec = profile.described_device(device)
    if precision is not None and precision.upper() not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    wanted = precision.upper() if precision else ("INT8" if costs.quantized else spec.default_precision)
    supported = spec.supported_precisions()
    if wanted in supported:
        return device, wanted, "; ".join(notes)
    fallback = spec.default_precision if spec.default_precision in supported else supported[0]
    if wanted == "INT8" and device == "GPU" and "FP16" in supported:
        fallback = "FP16"
    notes.append(f"{device} has no native {wanted}: runs as {fallback}")
    return device, fallback, "; ".join(notes)


def predict_costs(costs: GraphCosts, profile: Profile, device: str = "CPU", precision: str | None = None,
                  measured_ms: float | None = None) -> Prediction:
    """Like :func:`predict_latency_ms` for already counted costs (reuse them across profiles)."""
    if not profile.predicts:
        return Prediction(measured_ms, costs.flops, costs.params, "CPU", (precision or "FP32").upper(), profile.name,
                          measured=True, note="measured on this host" if measured_ms is not None else
                          "host profile: latency is measured, not predicted")
    device, precision, note = resolve(profile, device, precision, costs)
    spec = profile.described_device(device)
    total, breakdown, bound = device_ms(costs, spec, precision, profile.bandwidth_gbps())
    if spec.calibrated_precisions and precision not in spec.calibrated_precisions:
        done = "/".join(spec.calibrated_precisions)
        note = "; ".join(filter(None, [note, f"{precision} not calibrated: {done} efficiencies applied to the "
                                              f"{precision} peak"]))
    return Prediction(total, costs.flops, costs.params, device, precision, profile.name, breakdown, bound,
                      note=note)


def device_ms(costs: GraphCosts, spec: CpuSpec | GpuSpec, precision: str,
              bandwidth_gbps: float) -> tuple[float, dict[str, float], dict[str, int]]:
    """Predicted ms of ``costs`` on ``spec`` at a supported ``precision``, its per-kind split and bound counts
    (an op is memory-bound when its traffic term exceeds its arithmetic term)."""
    peak = spec.peak_gflops_at(precision) * 1e9
    theta = coefficients(spec, bandwidth_gbps)
    memory = [TERMS.index("activations"), TERMS.index("weights")]
    ops = TERMS.index("ops")
    breakdown: dict[str, float] = {}
    bound = {"compute": 0, "memory": 0}
    total = spec.inference_overhead_ms * 1e-3
    for op in costs.ops:
        if op.kind == "fused":
            continue
        parts = op_terms(op, peak, precision, bandwidth_gbps) * theta
        traffic = parts[memory].sum()
        bound["memory" if traffic > parts.sum() - traffic - parts[ops] else "compute"] += 1
        t = float(parts.sum())
        breakdown[op.kind] = breakdown.get(op.kind, 0.0) + t * 1e3
        total += t
    return total * 1e3, breakdown, bound


def predict_latency_ms(graph: ov.Model, profile: Profile, device: str = "CPU", precision: str | None = None,
                       measured_ms: float | None = None) -> Prediction:
    """Predicted latency of one inference of ``graph`` on ``profile``'s ``device`` (CPU or GPU).

    ``precision`` None means what the device would use: INT8 for a quantized graph where supported, else the
    device's ``default_precision`` (FP16 on the DeepLens GPU, FP32 on CPUs). A precision the hardware lacks
    falls back (e.g. FP16 on an x86 CPU runs as FP32) and the Prediction's ``note`` says so. For a profile that
    describes no device (``host``) the result carries ``measured_ms`` (may be None) with ``measured=True``.
    """
    return predict_costs(graph_costs(graph), profile, device, precision, measured_ms)
