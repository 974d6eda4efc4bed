"""Pace inference to the profile's predicted latency, and say plainly when this host cannot keep up.

One Pacer per loaded model (``awscam.Model``); not meant to be shared between threads::

    pacer = make_pacer(graph, "raspberry-pi-4", "CPU")   # None for the unpaced host profile
    result = pacer.run(request.infer, inputs)       # returns no sooner than predicted_ms after the call
    # or, timing it yourself:  t0 = time.perf_counter(); ...; info = pacer.pace(t0, host_ms)  (a dict)
    pacer.status    # "paced to raspberry-pi-4: predicted 61.8 ms (host 4.6 ms)"
                    # or "host too slow for this profile: 41.2 ms > predicted 30.0 ms"

On an unpaced profile (``pacing: false``) or without a prediction, a Pacer only measures.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.profiles.schema import Profile

if TYPE_CHECKING:
    from simulator.profiles.perf import Prediction


@dataclass(frozen=True)
class PaceStats:
    """A snapshot for status displays (``/api/status``, the log, the GUI)."""

    profile: str
    paced: bool
    predicted_ms: float | None
    host_ms: float | None  # mean of the recent inferences, as measured on this host
    effective_ms: float | None  # what the caller experienced per inference (paced)
    host_too_slow: bool
    inferences: int
    status: str

    device: str | None = None
    precision: str | None = None

    @property
    def fps(self) -> float | None:
        return 1000.0 / self.effective_ms if self.effective_ms else None

    def as_dict(self) -> dict:
        """JSON-ready (rounded) form, as the Lambda process shares it with the core."""
        r = lambda v: None if v is None else round(v, 3)  # noqa: E731
        return {"profile": self.profile, "paced": self.paced, "predicted_ms": r(self.predicted_ms),
                "host_ms": r(self.host_ms), "effective_ms": r(self.effective_ms), "fps": r(self.fps),
                "host_too_slow": self.host_too_slow, "inferences": self.inferences, "status": self.status,
                "device": self.device, "precision": self.precision}


class Pacer:
    def __init__(self, profile: Profile, predicted_ms: float | None, *, window: int = 10,
                 clock: Callable[[], float] = time.perf_counter, sleep: Callable[[float], None] = time.sleep):
        self.profile = profile
        self.predicted_ms = predicted_ms
        self.enabled = bool(profile.pacing and predicted_ms and predicted_ms > 0)
        self._clock, self._sleep = clock, sleep
        self._host: deque[float] = deque(maxlen=max(1, window))
        self._effective: deque[float] = deque(maxlen=max(1, window))
        self._t0: float | None = None
        self.inferences = 0
        self.host_ms: float | None = None  # the last inference, measured
        self.prediction: Prediction | None = None  # the perf.Prediction behind predicted_ms (from make_pacer)

    def start(self) -> None:
        self._t0 = self._clock()

    def finish(self) -> float:
        """End the inference begun by :meth:`start`; sleep out the rest of the predicted time. Returns host ms."""
        if self._t0 is None:
            raise RuntimeError("Pacer.finish() called without start()")
        t0, self._t0 = self._t0, None
        host_ms = (self._clock() - t0) * 1e3
        self.pace(t0, host_ms)
        return host_ms

    def pace(self, t0: float, host_ms: float) -> dict:
        """Record an inference that began at ``t0`` (the pacer's clock, ``time.perf_counter`` by default) and
        took ``host_ms`` on this host; sleep until ``t0 + predicted_ms``. Returns ``stats().as_dict()``."""
        paced_ms = self._paced_ms
        if paced_ms is not None:
            deadline = t0 + paced_ms / 1e3
            remaining = deadline - self._clock()
            while remaining > 0:
                self._sleep(remaining)
                remaining = deadline - self._clock()
        self._effective.append((self._clock() - t0) * 1e3)
        self._host.append(host_ms)
        self.host_ms = host_ms
        self.inferences += 1
        return self.stats().as_dict()

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)`` paced. An exception propagates at once (not paced, not counted)."""
        self.start()
        try:
            result = fn(*args, **kwargs)
        except BaseException:
            self._t0 = None
            raise
        self.finish()
        return result

    @property
    def _paced_ms(self) -> float | None:
        """The predicted ms inference is paced to; None when unpaced."""
        return self.predicted_ms if self.enabled else None

    @property
    def recent_host_ms(self) -> float | None:
        return sum(self._host) / len(self._host) if self._host else None

    @property
    def host_too_slow(self) -> bool:
        recent, paced_ms = self.recent_host_ms, self._paced_ms
        return recent is not None and paced_ms is not None and recent > paced_ms

    @property
    def status(self) -> str:
        recent = self.recent_host_ms
        if not self.enabled:
            measured = f"{recent:.1f} ms" if recent is not None else "no inference yet"
            return f"{self.profile.name}: unpaced, host {measured}"
        if self.host_too_slow:
            return f"host too slow for this profile: {recent:.1f} ms > predicted {self.predicted_ms:.1f} ms"
        host = f" (host {recent:.1f} ms)" if recent is not None else ""
        return f"paced to {self.profile.name}: predicted {self.predicted_ms:.1f} ms{host}"

    def stats(self) -> PaceStats:
        effective = sum(self._effective) / len(self._effective) if self._effective else None
        p = self.prediction
        return PaceStats(self.profile.name, self.enabled, self.predicted_ms, self.recent_host_ms, effective,
                         self.host_too_slow, self.inferences, self.status,
                         getattr(p, "device", None), getattr(p, "precision", None))


def make_pacer(graph, profile: Profile | str, device: str = "CPU", precision: str | None = None) -> Pacer | None:
    """A Pacer for ``graph`` (an ``openvino.Model``) on ``profile`` (a Profile or a profile name/path) and the
    device the Lambda asked for; None for an unpaced profile such as ``host``.

    Raises ValueError when the latency cannot be predicted (no graph); callers treat pacing as advisory.
    """
    from simulator.profiles.loader import load_profile
    from simulator.profiles.perf import predict_latency_ms

    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    if not profile.pacing:
        return None
    if graph is None:
        raise ValueError(f"no graph to predict from, so profile '{profile.name}' cannot pace this model")
    prediction = predict_latency_ms(graph, profile, device, precision)
    pacer = Pacer(profile, prediction.ms)
    pacer.prediction = prediction
    return pacer
