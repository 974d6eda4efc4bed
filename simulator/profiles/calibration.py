"""The published figures the performance model is calibrated against, and the fit that turns them into efficiencies.

Only the figures of the reference table (docs/performance-model.md) appear here. Each device gets two fitted
numbers, ``efficiency.conv`` and ``efficiency.depthwise``, from two figures: ResNet-18 (dense convolutions) and
MobileNetV2 (pointwise + depthwise). Figures of another runtime are kept as checks, never fitted::

    python -m simulator.profiles.calibration      # prints the fitted efficiencies
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from simulator.profiles.costs import GraphCosts, graph_costs
from simulator.profiles.loader import load_profile
from simulator.profiles.perf import device_ms
from simulator.profiles.refnets import REFERENCE_NETS
from simulator.profiles.schema import CpuSpec, Efficiency, GpuSpec, Profile

# The nearest published stand-in for the DeepLens GPU: Atom x5-Z8350's HD Graphics 400 (Gen8, 12 EU, 500 MHz
# burst, single-channel DDR3L-1600). Its fitted efficiencies are used for the HD Graphics 500 (Gen9, 12 EU).
Z8350 = Profile(
    name="atom-z8350-gpu (calibration stand-in)", pacing=False, memory_bandwidth_gbps=12.8, default_device="GPU",
    gpu=GpuSpec(model="Intel HD Graphics 400 (Gen8, 12 EU)", execution_units=12, clock_ghz=0.5,
                fp32_flops_per_eu_cycle=16, fp16_arith=True, cache_mb=0,
                efficiency=Efficiency(conv=1.0, depthwise=1.0)))


@dataclass(frozen=True)
class Figure:
    target: str  # profile name (or the Z8350 stand-in)
    device: str
    net: str  # a name of refnets.REFERENCE_NETS
    precision: str
    value: float
    unit: str  # "ms" or "FPS"
    runtime: str
    source: str
    use: str  # "fit" or "check"

    @property
    def ms(self) -> float:
        """Per-inference time. A throughput figure (FPS with every core busy) becomes 1000 / FPS."""
        return self.value if self.unit == "ms" else 1000.0 / self.value


OV_CSV = "openvino docs benchmark-data.csv"
NCNN = "ncnn benchmark/README.md"
ZOO = "opencv_zoo benchmark"
FIGURES: tuple[Figure, ...] = (
    Figure("deeplens", "CPU", "mobilenet_v2", "FP32", 45.3, "FPS", "OpenVINO 2022.1 CPU, throughput mode (4 requests)",
           OV_CSV, "fit"),
    Figure("deeplens", "CPU", "resnet18", "FP32", 9.7, "FPS", "OpenVINO 2022.1 CPU, throughput mode (4 requests)",
           OV_CSV, "fit"),
    Figure(Z8350.name, "GPU", "mobilenet_v2", "FP16", 30.8, "ms", "ncnn Vulkan fp16", NCNN, "fit"),
    Figure(Z8350.name, "GPU", "resnet18", "FP16", 94.5, "ms", "ncnn Vulkan fp16", NCNN, "fit"),
    Figure("raspberry-pi-4", "CPU", "mobilenet_v2", "FP32", 61.9, "ms", "ncnn FP32, 4 threads", NCNN, "fit"),
    Figure("raspberry-pi-4", "CPU", "resnet18", "FP32", 123.1, "ms", "ncnn FP32, 4 threads", NCNN, "fit"),
    Figure("raspberry-pi-5", "CPU", "mobilenet_v2", "FP32", 10.5, "ms", "ncnn FP32, 4 threads", NCNN, "fit"),
    Figure("raspberry-pi-5", "CPU", "resnet18", "FP32", 20.0, "ms", "ncnn FP32, 4 threads", NCNN, "fit"),
    Figure("raspberry-pi-4", "CPU", "mobilenet_v1", "FP32", 72.3, "ms", "OpenCV DNN 4.7 (incl. pre/post-processing)",
           ZOO, "check"),
    Figure("raspberry-pi-4", "CPU", "mobilenet_v2", "FP32", 66.6, "ms", "OpenCV DNN 4.7 (incl. pre/post-processing)",
           ZOO, "check"),
)
# Not used: Intel i7-12700K, OpenCV DNN 4.7, MobileNetV1 5.9 ms - no profile describes that CPU, and the host
# profile is measured rather than predicted.


@lru_cache(maxsize=None)
def reference_costs(net: str) -> GraphCosts:
    return graph_costs(REFERENCE_NETS[net]())


def target_profile(name: str) -> Profile:
    """The profile a figure is predicted with; the Z8350 stand-in carries the DeepLens GPU's efficiencies."""
    if name != Z8350.name:
        return load_profile(name)
    gpu = Z8350.gpu.model_copy(update={"efficiency": load_profile("deeplens").gpu.efficiency})
    return Z8350.model_copy(update={"gpu": gpu})


def predicted_ms(fig: Figure, profile: Profile | None = None) -> float:
    profile = profile or target_profile(fig.target)
    spec = profile.device(fig.device)
    return device_ms(reference_costs(fig.net), spec, fig.precision, profile.memory_bandwidth_gbps)[0]


def _bisect(f, lo: float = 1e-3, hi: float = 4.0, steps: int = 50) -> float:
    """Root of a decreasing function f on [lo, hi] (geometric bisection); clamps at the ends."""
    if f(hi) > 0:
        return hi
    if f(lo) < 0:
        return lo
    for _ in range(steps):
        mid = (lo * hi) ** 0.5
        lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
    return (lo * hi) ** 0.5


def fit(spec: CpuSpec | GpuSpec, bandwidth: float, precision: str, dense: tuple[GraphCosts, float],
        depthwise: tuple[GraphCosts, float]) -> Efficiency:
    """Efficiencies (conv, depthwise) that reproduce both figures: ``dense`` = (ResNet-18 costs, ms),
    ``depthwise`` = (MobileNetV2 costs, ms)."""

    def with_eff(conv: float, dw: float):
        return spec.model_copy(update={"efficiency": Efficiency(conv=conv, depthwise=dw)})

    def dw_for(conv: float) -> float:
        costs, ms = depthwise
        return _bisect(lambda dw: device_ms(costs, with_eff(conv, dw), precision, bandwidth)[0] - ms)

    costs, ms = dense
    conv = _bisect(lambda c: device_ms(costs, with_eff(c, dw_for(c)), precision, bandwidth)[0] - ms)
    return Efficiency(conv=round(conv, 4), depthwise=round(dw_for(conv), 4))


def fit_all() -> dict[tuple[str, str], Efficiency]:
    """Fitted efficiencies per (target, device) from the figures marked "fit"."""
    out = {}
    groups: dict[tuple[str, str], dict[str, Figure]] = {}
    for fig in FIGURES:
        if fig.use == "fit":
            groups.setdefault((fig.target, fig.device), {})[fig.net] = fig
    for (target, device), figs in groups.items():
        profile = Z8350 if target == Z8350.name else load_profile(target)
        spec = profile.device(device)
        r18, mnv2 = figs["resnet18"], figs["mobilenet_v2"]
        out[(target, device)] = fit(spec, profile.memory_bandwidth_gbps, r18.precision,
                                    (reference_costs("resnet18"), r18.ms), (reference_costs("mobilenet_v2"), mnv2.ms))
    return out


if __name__ == "__main__":
    for (target, device), eff in fit_all().items():
        print(f"{target:40s} {device}: conv {eff.conv:.4f}  depthwise {eff.depthwise:.4f}")
