"""Does a device keep up with its hardware profile, and how many devices does this machine sustain?

A device is **falling behind** when its inference rate (``status.inference.fps``, averaged over the last 3 s) is
below ``KEEP_UP`` (0.9) of the rate it should reach; it **keeps up** at that share of it or more:

- a paced profile (``deeplens``, ``raspberry-pi-*``): the profile's predicted rate, ``inference.pacing.fps``;
- the unpaced ``host`` profile: the rate one device of the same project reached running alone on this machine
  (the fleet measures it on its first device before starting the others, see ``measure_baseline``).

A device is judged only once it has settled: its first result came at least one rate window ago.
``sustained(rates)`` counts devices at full rate: the sum over devices of min(1, rate / expected), rounded down.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from pydantic import BaseModel, ConfigDict, Field

from simulator.status import DeviceStatus
from simulator.telemetry import RATE_WINDOW

KEEP_UP = 0.9


def percent(share: float) -> str:
    """``0.9`` → ``"90 %"``."""
    return f"{round(share * 100, 1):g} %"


def sustains_all(devices: int, keep_up: float = KEEP_UP) -> str:
    """Every judged device keeps up, in words that say what keeping up means."""
    return f"this machine sustains all {devices} at their profile's rate (each at {percent(keep_up)} of it or more)"


def paced_rate(status: DeviceStatus) -> float | None:
    """The rate a paced profile predicts for the loaded model (None: unpaced, or no model loaded yet)."""
    pacing = status.inference.pacing
    if pacing is None or not pacing.paced or not pacing.fps:
        return None
    return float(pacing.fps)


def settled(status: DeviceStatus) -> bool:
    """The device has produced results for at least one rate window (its fps means something)."""
    st = status.startup
    return st is not None and st.first_result_s is not None and st.elapsed_s - st.first_result_s >= RATE_WINDOW


def is_behind(fps: float | None, expected: float | None, keep_up: float = KEEP_UP) -> bool | None:
    """True below ``keep_up`` × expected; None when there is nothing to compare."""
    if fps is None or not expected:
        return None
    return fps < keep_up * expected


class DeviceRate(BaseModel):
    """One device's inference rate against the rate it should reach."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    thing: str
    fps: float | None = Field(description="inferences per second (None: not settled yet)")
    expected_fps: float | None = Field(description="the profile's rate, or the single-device rate on this machine")
    behind: bool | None = Field(description=f"below {percent(KEEP_UP)} of expected_fps (None: not judged)")


class CapacityReport(BaseModel):
    """How many of the devices keep up, and how many this machine sustains at full rate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    devices: int
    judged: int = Field(description="devices settled and with an expected rate")
    keeping_up: int
    behind: int
    full_rate_devices: float = Field(description="sum of min(1, fps / expected) over the judged devices")
    sustained: int | None = Field(description="devices at full rate this machine sustains: full_rate_devices "
                                              "rounded down (None: none judged)")
    total_fps: float

    def describe(self) -> str:
        if not self.judged:
            return f"{self.devices} device(s), rates not settled yet"
        text = f"{self.keeping_up} of {self.judged} keep up, {self.behind} falling behind; {self.total_fps:.1f} " \
               "inferences/s in all"
        if self.behind == 0 and self.judged == self.devices:
            return f"{text}; {sustains_all(self.devices)}"
        return f"{text}; {sustains(self.sustained, self.full_rate_devices)}"


def sustains(sustained: int | None, full_rate_devices: float) -> str:
    """How many devices at full rate, in words."""
    if not sustained:
        return f"this machine does not sustain even one device at its profile's rate ({full_rate_devices:.1f})"
    return (f"this machine sustains about {sustained} device(s) at their profile's rate "
            f"({full_rate_devices:.1f} device-equivalents)")


def report(rates: Iterable[DeviceRate]) -> CapacityReport:
    rates = list(rates)
    judged = [r for r in rates if r.behind is not None and r.fps is not None and r.expected_fps]
    full = sum(min(1.0, (r.fps or 0.0) / r.expected_fps) for r in judged if r.expected_fps)
    return CapacityReport(
        devices=len(rates), judged=len(judged), keeping_up=sum(1 for r in judged if not r.behind),
        behind=sum(1 for r in judged if r.behind), full_rate_devices=round(full, 2),
        sustained=math.floor(full + 1e-9) if judged else None,
        total_fps=round(sum(r.fps or 0.0 for r in rates), 2))


def device_rate(status: DeviceStatus, host_baseline: float | None) -> DeviceRate:
    """``status`` judged against its profile's rate (paced) or ``host_baseline`` (unpaced)."""
    expected = paced_rate(status) or (host_baseline if status.profile == "host" else None)
    fps = status.inference.fps if settled(status) else None
    return DeviceRate(thing=status.thing_name, fps=fps, expected_fps=round(expected, 2) if expected else None,
                      behind=is_behind(fps, expected))


def measure_baseline(status: Callable[[], DeviceStatus], seconds: float, timeout: float = 120.0,
                     stop: Callable[[], bool] = lambda: False) -> float | None:
    """A device's inference rate over ``seconds`` once it has settled (None if it did not settle in ``timeout``
    seconds, or ``stop()`` said so)."""
    deadline = time.monotonic() + timeout
    while not settled(status()):
        if time.monotonic() > deadline or stop():
            return None
        time.sleep(0.2)
    first, t0 = status().inference.inferences, time.monotonic()
    while time.monotonic() - t0 < seconds:
        if stop():
            return None
        time.sleep(0.2)
    last, t1 = status().inference.inferences, time.monotonic()
    return (last - first) / (t1 - t0) if last > first else None
