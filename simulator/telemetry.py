"""Rates and latencies of a running device, sampled twice a second (fps, inference latency, history).

``Telemetry(read_stats, project_seq)`` needs only two callables: the Lambda's counters (a dict, as the Lambda
process writes them into the shared stats block) and the sequence number of the newest project-stream frame.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from simulator.status import InferenceStatus, PacingStatus

PERIOD = 0.5
HISTORY_SECONDS = 60
RATE_WINDOW = 3.0  # rates are averaged over this many seconds (a paced Pi does ~5 inferences a second)


def _pacing(raw: Any) -> PacingStatus | None:
    if not isinstance(raw, dict) or not raw:
        return None
    try:
        return PacingStatus.model_validate(raw)
    except ValidationError:
        return None


class Telemetry:
    def __init__(self, read_stats: Callable[[], dict[str, Any]], project_seq: Callable[[], int]) -> None:
        self._read_stats, self._project_seq = read_stats, project_seq
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.history: deque[tuple[float, float, float | None]] = deque(maxlen=int(HISTORY_SECONDS / PERIOD))
        self._window: deque[tuple[float, int, int, int]] = deque()
        self._last = InferenceStatus()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(PERIOD):
            self.sample()

    def sample(self) -> InferenceStatus:
        stats = self._read_stats()
        now = time.monotonic()
        counts = (int(stats.get("inferences", 0)), int(stats.get("publishes", 0)), self._project_seq())
        if self._window and any(c < p for c, p in zip(counts, self._window[-1][1:], strict=True)):
            self._window.clear()  # counters restarted (a new deployment)
        self._window.append((now, *counts))
        while len(self._window) > 2 and now - self._window[1][0] >= RATE_WINDOW:
            self._window.popleft()
        fps = pub_rate = stream_fps = 0.0
        first = self._window[0]
        if now > first[0]:
            fps, pub_rate, stream_fps = ((c - p) / (now - first[0]) for c, p in zip(counts, first[1:], strict=True))
        pacing = _pacing(stats.get("pacing"))
        predicted = pacing.predicted_ms if pacing else None
        self._last = InferenceStatus(
            model=stats.get("model"), device=stats.get("device"), runs_on=stats.get("runs_on"),
            inferences=counts[0], fps=round(fps, 2), host_ms=stats.get("host_ms"), predicted_ms=predicted,
            pacing=pacing, publishes=counts[1], publish_rate=round(pub_rate, 1),
            publish_dropped=int(stats.get("publish_dropped", 0)), project_stream_fps=round(stream_fps, 2),
            frames_read=int(stats.get("frames_read", 0)), stale_frames=int(stats.get("stale_frames", 0)))
        self.history.append((time.time(), stats.get("host_ms") or 0.0, predicted))
        return self._last

    def summary(self) -> InferenceStatus:
        return self._last
