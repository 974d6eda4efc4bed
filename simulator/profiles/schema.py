"""The validated shape of a ``hardware_profiles/*.yaml`` file (strict: unknown keys are errors).

A profile describes a device well enough to (1) deliver camera frames in its format, (2) predict how long a
model's inference takes on its CPU or GPU (see perf.py) and (3) pace inference to that prediction::

    profile = load_profile("deeplens")
    profile.cpu.peak_gflops("FP32")      # 57.6
    profile.device("GPU").efficiency.for_kind("depthwise")
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PRECISIONS = ("FP32", "FP16", "INT8")
Precision = Literal["FP32", "FP16", "INT8"]
DeviceName = Literal["CPU", "GPU"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSpec(Strict):
    """The format the device's camera delivers. ``None`` width/height/fps = the source's own."""

    width: int | None = Field(default=None, gt=0, le=8192)
    height: int | None = Field(default=None, gt=0, le=8192)
    fps: float | None = Field(default=None, gt=0, le=240)
    pixel_format: str = Field(default="BGR", pattern="^BGR$")


class Efficiency(Strict):
    """Fraction of peak arithmetic a runtime reaches per kind of operation (fitted, see docs/performance-model.md).

    Values above 1 are allowed: runtimes use Winograd / fast algorithms for 3x3 convolutions, so they need fewer
    operations than the direct-convolution count the cost model uses. Unset kinds fall back: ``conv3x3``
    (dense 3x3 stride 1), ``pointwise`` (1x1) and ``gemm`` to ``conv``; ``elementwise``, ``pool``, ``data`` and
    ``other`` to ``depthwise`` (all streaming SIMD work).
    """

    conv: float = Field(gt=0, le=4)
    depthwise: float = Field(gt=0, le=4)
    conv3x3: float | None = Field(default=None, gt=0, le=4)
    pointwise: float | None = Field(default=None, gt=0, le=4)
    gemm: float | None = Field(default=None, gt=0, le=4)
    elementwise: float | None = Field(default=None, gt=0, le=4)
    pool: float | None = Field(default=None, gt=0, le=4)
    data: float | None = Field(default=None, gt=0, le=4)
    other: float | None = Field(default=None, gt=0, le=4)

    def for_kind(self, kind: str) -> float:
        value = getattr(self, kind, None) if kind in type(self).model_fields else None
        if value is not None:
            return value
        return self.conv if kind in ("gemm", "pointwise", "conv3x3") else self.depthwise


class _Compute(Strict):
    model: str
    efficiency: Efficiency
    peak_gflops: dict[Precision, float] | None = Field(
        default=None, description="override of the computed peak per precision (GFLOPS, or GOPS for INT8)")
    cache_mb: float = Field(default=0.0, ge=0, le=1024, description="last-level cache (informational: the fitted "
                                                                     "stream rate already reflects caching)")
    stream_gbps: float | None = Field(
        default=None, gt=0, le=10_000, description="effective rate of each op's activation traffic (fitted; may "
                                                   "exceed memory bandwidth: tensors stay in cache); None: memory "
                                                   "bandwidth")
    weight_gbps: float | None = Field(
        default=None, gt=0, le=10_000, description="effective rate weights are read at (fitted); None: memory "
                                                   "bandwidth")
    op_overhead_us: float = Field(default=0.0, ge=0, le=10_000, description="fixed cost per executed operation")
    inference_overhead_ms: float = Field(default=0.0, ge=0, le=10_000, description="fixed cost per inference")
    default_precision: Precision = "FP32"
    calibrated_precisions: list[Precision] = Field(
        default_factory=list, description="precisions the efficiencies were fitted at (others are extrapolated)")

    def _flops_per_cycle(self, precision: str) -> float | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _units_ghz(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def peak_gflops_for(self, precision: str) -> float | None:
        """Peak GFLOPS (GOPS for INT8) at ``precision``, or None if the hardware has no native support for it."""
        if self.peak_gflops and precision in self.peak_gflops:
            return self.peak_gflops[precision]
        per_cycle = self._flops_per_cycle(precision)
        return None if per_cycle is None else per_cycle * self._units_ghz()

    def peak_gflops_at(self, precision: str) -> float:
        """Peak GFLOPS (GOPS for INT8) at a ``precision`` the hardware supports; ValueError for one it lacks."""
        peak = self.peak_gflops_for(precision)
        if peak is None:
            raise ValueError(f"{self.model} has no native {precision} (supported: "
                             f"{', '.join(self.supported_precisions())})")
        return peak

    def supported_precisions(self) -> list[str]:
        return [p for p in PRECISIONS if self.peak_gflops_for(p) is not None]


class CpuSpec(_Compute):
    """A CPU: FP32 FLOPs/cycle/core = (simd_bits / 32) x vector_pipes x (2 if fma)."""

    cores: int = Field(gt=0, le=512)
    threads: int = Field(gt=0, le=1024)
    base_ghz: float = Field(gt=0, le=10)
    boost_ghz: float = Field(gt=0, le=10)
    isa: list[str] = Field(default_factory=list, description="vector ISA, e.g. SSE4.2, NEON, AVX2")
    simd_bits: int = Field(gt=0, le=2048)
    vector_pipes: int = Field(gt=0, le=8, description="vector FP pipes that can each start one op per cycle")
    fma: bool
    fp16_arith: bool = Field(default=False, description="native FP16 arithmetic at twice the FP32 rate")
    int8_ops_per_cycle: float | None = Field(default=None, gt=0, le=100_000, description="per core")

    @property
    def fp32_lanes(self) -> int:
        return self.simd_bits // 32

    def _flops_per_cycle(self, precision: str) -> float | None:
        fp32 = self.fp32_lanes * self.vector_pipes * (2 if self.fma else 1)
        return {"FP32": fp32, "FP16": 2 * fp32 if self.fp16_arith else None,
                "INT8": self.int8_ops_per_cycle}.get(precision)

    def _units_ghz(self) -> float:
        return self.cores * self.boost_ghz

    @model_validator(mode="after")
    def _check(self) -> CpuSpec:
        if self.threads < self.cores:
            raise ValueError(f"threads ({self.threads}) cannot be fewer than cores ({self.cores})")
        if self.boost_ghz < self.base_ghz:
            raise ValueError(f"boost_ghz ({self.boost_ghz}) is below base_ghz ({self.base_ghz})")
        if self.simd_bits % 32:
            raise ValueError(f"simd_bits must be a multiple of 32, got {self.simd_bits}")
        return self


class GpuSpec(_Compute):
    """An integrated GPU: FP32 FLOPs/cycle = execution_units x fp32_flops_per_eu_cycle."""

    execution_units: int = Field(gt=0, le=100_000)
    clock_ghz: float = Field(gt=0, le=10)
    fp32_flops_per_eu_cycle: float = Field(gt=0, le=10_000)
    fp16_arith: bool = Field(default=True, description="native FP16 at twice the FP32 rate")
    int8_ops_per_eu_cycle: float | None = Field(default=None, gt=0, le=100_000)
    default_precision: Precision = "FP16"

    def _flops_per_cycle(self, precision: str) -> float | None:
        fp32 = self.fp32_flops_per_eu_cycle
        return {"FP32": fp32, "FP16": 2 * fp32 if self.fp16_arith else None,
                "INT8": self.int8_ops_per_eu_cycle}.get(precision)

    def _units_ghz(self) -> float:
        return self.execution_units * self.clock_ghz


class Profile(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    camera: CameraSpec = CameraSpec()
    pacing: bool = True
    memory_gb: float | None = Field(default=None, gt=0, le=4096)
    memory_bandwidth_gbps: float | None = Field(default=None, gt=0, le=10_000)
    default_device: DeviceName = "CPU"
    cpu: CpuSpec | None = None
    gpu: GpuSpec | None = None

    @model_validator(mode="after")
    def _check(self) -> Profile:
        if self.pacing and self.cpu is None:
            raise ValueError("a paced profile needs a 'cpu' description (only an unpaced profile like 'host' "
                             "may leave it out: its latency is measured, not predicted)")
        if (self.cpu or self.gpu) and self.memory_bandwidth_gbps is None:
            raise ValueError("'memory_bandwidth_gbps' is required when a cpu or gpu is described")
        if self.default_device == "GPU" and self.gpu is None:
            raise ValueError("default_device is GPU but the profile describes no 'gpu'")
        return self

    @property
    def predicts(self) -> bool:
        """True when latency is predicted from the device description (False: measured on this host)."""
        return self.cpu is not None or self.gpu is not None

    def device(self, name: str) -> CpuSpec | GpuSpec | None:
        return self.gpu if name.upper() == "GPU" else self.cpu

    def described_device(self, name: str) -> CpuSpec | GpuSpec:
        """The description of device ``name`` (CPU or GPU); ValueError when the profile describes none."""
        spec = self.device(name)
        if spec is None:
            raise ValueError(f"profile '{self.name}' describes no {name.upper()}")
        return spec

    def bandwidth_gbps(self) -> float:
        """``memory_bandwidth_gbps``; ValueError for a profile without one (only a measured profile like 'host')."""
        if self.memory_bandwidth_gbps is None:
            raise ValueError(f"profile '{self.name}' has no memory_bandwidth_gbps: its latency cannot be predicted")
        return self.memory_bandwidth_gbps

    def devices(self) -> list[str]:
        return [n for n, d in (("CPU", self.cpu), ("GPU", self.gpu)) if d is not None]
