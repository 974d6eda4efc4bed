"""Rates and latencies of a running device, sampled twice a second (fps, inference latency, history)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.core import SimulatedDevice

PERIOD = 0.5
HISTORY_SECONDS = 60
RATE_WINDOW = 3.0  # rates are averaged over this many seconds (a paced Pi does ~5 inferences a second)


class Telemetry:
    def __init__(self, device: SimulatedDevice) -> None:
        self._device = device
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.history: deque[tuple[float, float, float | None]] = deque(maxlen=int(HISTORY_SECONDS / PERIOD))
        self._window: deque[tuple[float, int, int, int]] = deque()
        self._last: dict = {}

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(PERIOD):
            self.sample()

    def sample(self) -> dict:
        stats = self._device.lambda_stats()
        now = time.monotonic()
        counts = (int(stats.get("inferences", 0)), int(stats.get("publishes", 0)), self._device.project_seq())
        if self._window and any(c < p for c, p in zip(counts, self._window[-1][1:])):
            self._window.clear()  # counters restarted (a new deployment)
        self._window.append((now, *counts))
        while len(self._window) > 2 and now - self._window[1][0] >= RATE_WINDOW:
            self._window.popleft()
        fps = pub_rate = stream_fps = 0.0
        first = self._window[0]
        if now > first[0]:
            fps, pub_rate, stream_fps = ((c - p) / (now - first[0]) for c, p in zip(counts, first[1:]))
        pacing = stats.get("pacing") or {}
        predicted = pacing.get("predicted_ms") if isinstance(pacing, dict) else None
        self._last = {
            "model": stats.get("model"),
            "device": stats.get("device"),
            "inferences": counts[0],
            "fps": round(fps, 2),
            "host_ms": stats.get("host_ms"),
            "predicted_ms": predicted,
            "pacing": pacing or None,
            "publishes": counts[1],
            "publish_rate": round(pub_rate, 1),
            "publish_dropped": int(stats.get("publish_dropped", 0)),
            "project_stream_fps": round(stream_fps, 2),
            "frames_read": int(stats.get("frames_read", 0)),
            "stale_frames": int(stats.get("stale_frames", 0)),
        }
        self.history.append((time.time(), stats.get("host_ms") or 0.0, predicted))
        return self._last

    def summary(self) -> dict:
        return dict(self._last)
