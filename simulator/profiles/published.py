"""Published latency figures the performance model is fitted to and checked against (``published.yaml``).

Every figure records where it was measured (device, runtime, precision, threads, batch, mode), the network it
measured (a name of ``refnets.REFERENCE_NETS``) and its exact source. A figure measured on other hardware than
the profile describes (a stand-in, or another clock) says how it differs, so it is predicted on that hardware::

    for fig in load_figures():
        fig.ms          # per-inference time the figure stands for (1000 / FPS for a throughput figure)
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.configfile import load_yaml_model
from simulator.profiles.schema import DeviceName, Precision

PUBLISHED = Path(__file__).with_name("published.yaml")
# names the file being loaded defines, so a figure's reference is checked where it is written (exact line)
_KNOWN: ContextVar[dict[str, set[str]] | None] = ContextVar("known_references", default=None)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hardware(_Strict):
    """The measured device, and how it differs from the profile's description (None: as described)."""

    description: str = Field(min_length=1)
    profile: str = Field(min_length=1, description="the hardware profile this device stands for")
    device: DeviceName
    clock_ghz: float | None = Field(default=None, gt=0, le=10, description="CPU boost clock / GPU clock measured at")
    execution_units: int | None = Field(default=None, gt=0, le=100_000)
    fp32_flops_per_eu_cycle: float | None = Field(default=None, gt=0, le=10_000)
    memory_bandwidth_gbps: float | None = Field(default=None, gt=0, le=10_000)


class Runtime(_Strict):
    """How a set of figures was measured."""

    name: str = Field(min_length=1, description="runtime and version, as published")
    precision: Precision
    threads: int = Field(gt=0, le=1024)
    batch: int = Field(gt=0, le=1024)
    mode: Literal["latency", "throughput"] = Field(
        description="latency: time of one request; throughput: FPS with all cores busy (several requests)")
    statistic: str = Field(min_length=1, description="what the published number is, e.g. 'mean of 10 runs'")
    source: str = Field(min_length=1, description="repository + path (+ section) or URL")
    factor: float = Field(default=1.0, gt=0, le=100, description="published value x factor = profile's runtime")
    conversion: str = Field(min_length=1, description="why the factor is what it is")


class Figure(_Strict):
    """One published figure: ``net`` on ``hardware`` with ``runtime``."""

    hardware: str = Field(min_length=1)
    runtime: str = Field(min_length=1)
    net: str = Field(min_length=1, description="reference network (refnets.REFERENCE_NETS)")
    model: str = Field(min_length=1, description="the model as the source names it")
    value: float = Field(gt=0)
    unit: Literal["ms", "FPS"]

    @field_validator("hardware", "runtime")
    @classmethod
    def _known_reference(cls, name: str, info) -> str:
        known = (_KNOWN.get() or {}).get(info.field_name)
        if known is not None and name not in known:
            raise ValueError(f"unknown {info.field_name} {name!r} (known: {', '.join(sorted(known))})")
        return name

    @field_validator("net")
    @classmethod
    def _known_net(cls, net: str) -> str:
        from simulator.profiles.refnets import REFERENCE_NETS

        if net not in REFERENCE_NETS:
            raise ValueError(f"unknown reference network {net!r} (known: {', '.join(REFERENCE_NETS)})")
        return net


class Published(_Strict):
    hardware: dict[str, Hardware]
    runtimes: dict[str, Runtime]
    figures: list[Figure] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Published:
        for i, fig in enumerate(self.figures):
            if fig.hardware not in self.hardware:
                raise ValueError(f"figures[{i}] ({fig.net}): unknown hardware {fig.hardware!r} "
                                 f"(known: {', '.join(self.hardware)})")
            if fig.runtime not in self.runtimes:
                raise ValueError(f"figures[{i}] ({fig.net}): unknown runtime {fig.runtime!r} "
                                 f"(known: {', '.join(self.runtimes)})")
        seen = set()
        for fig in self.figures:
            key = (fig.hardware, fig.runtime, fig.net)
            if key in seen:
                raise ValueError(f"figure {key} appears twice")
            seen.add(key)
        return self


class Resolved(BaseModel):
    """A figure with its hardware and runtime resolved (what the fit and the reports use)."""

    model_config = ConfigDict(frozen=True)

    index: int
    figure: Figure
    hardware: Hardware
    runtime: Runtime

    @property
    def target(self) -> tuple[str, str]:
        """(profile, device) whose coefficients this figure calibrates."""
        return self.hardware.profile, self.hardware.device

    @property
    def net(self) -> str:
        return self.figure.net

    @property
    def ms(self) -> float:
        """Per-inference time in the profile's runtime: 1000/FPS for a throughput figure, times the factor."""
        value = self.figure.value if self.figure.unit == "ms" else 1000.0 / self.figure.value
        return value * self.runtime.factor

    @property
    def label(self) -> str:
        return f"{self.figure.hardware}/{self.figure.net}"


def load_published(path: str | Path = PUBLISHED) -> Published:
    """Parse and validate a published-figures file; errors name the file, the line and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        raw = None  # load_yaml_model reports it
    known = None
    if isinstance(raw, dict):
        known = {key: set(value) for key, value in (("hardware", raw.get("hardware")), ("runtime", raw.get("runtimes")))
                 if isinstance(value, dict)}
    token = _KNOWN.set(known)
    try:
        return load_yaml_model(path, Published)
    finally:
        _KNOWN.reset(token)


@cache
def load_figures(path: str | Path = PUBLISHED) -> tuple[Resolved, ...]:
    data = load_published(path)
    return tuple(Resolved(index=i, figure=f, hardware=data.hardware[f.hardware], runtime=data.runtimes[f.runtime])
                 for i, f in enumerate(data.figures))
