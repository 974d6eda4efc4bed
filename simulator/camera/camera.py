"""The always-running camera: source → the profile's camera format → the latest-frame slot.

It runs in a thread of the core process. Playback of files follows their own frame rate (falling behind skips
frames rather than queueing them); the profile's fps caps the rate frames are published at; a live source that
stops delivering is reopened with backoff while everything else keeps running.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from simulator.camera.frames import Frame, FrameSlot
from simulator.camera.sources import Source
from simulator.errors import SourceError
from simulator.profiles.schema import CameraSpec

log = logging.getLogger(__name__)


def fit_to_format(image: np.ndarray, width: int | None, height: int | None) -> np.ndarray:
    """Scale and centre-crop to ``width`` x ``height`` (as a sensor of that format would see the scene)."""
    if width is None or height is None:
        return image
    ih, iw = image.shape[:2]
    if (iw, ih) == (width, height):
        return image
    scale = max(width / iw, height / ih)
    nw, nh = max(width, round(iw * scale)), max(height, round(ih * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    x0, y0 = (nw - width) // 2, (nh - height) // 2
    return np.ascontiguousarray(resized[y0: y0 + height, x0: x0 + width])


@dataclass
class CameraStats:
    fps: float = 0.0
    frames: int = 0
    dropped: int = 0
    reconnects: int = 0
    error: str | None = None


class Camera:
    """``start()`` opens the source (raising SourceError if it cannot) and begins publishing frames."""

    def __init__(self, source: Source, spec: CameraSpec, slot_path: Path, realtime: bool = True) -> None:
        self.source, self.spec, self.slot_path = source, spec, Path(slot_path)
        self.realtime = realtime
        self.stats = CameraStats()
        self.slot: FrameSlot | None = None
        self.latest: Frame | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames published."""
        assert self.slot is not None, "camera not started"
        return self._size

    def start(self) -> None:
        self.source.open()
        first = self.source.read()
        if first is None:
            self.source.close()
            raise SourceError(f"cannot read a first frame from {self.source.description}")
        first = fit_to_format(first, self.spec.width, self.spec.height)
        self._size = (first.shape[1], first.shape[0])
        self.slot = FrameSlot.create(self.slot_path, *self._size)
        self._publish(first)
        self._thread = threading.Thread(target=self._run, name="camera", daemon=True)
        self._thread.start()
        log.info("camera: %s → %dx%d%s", self.source.description, *self._size,
                 f" @ {self._rate():g} fps" if self._rate() else "")

    def _rate(self) -> float | None:
        rates = [r for r in (self.source.fps if self.realtime else None, self.spec.fps) if r]
        return min(rates) if rates else None

    def _publish(self, image: np.ndarray) -> None:
        assert self.slot is not None
        if image.shape[1::-1] != self._size:
            image = fit_to_format(image, *self._size)
        ts = time.time_ns()
        index = self.slot.write(image, ts)
        self.latest = Frame(image, ts, index)
        self.stats.frames += 1

    def _run(self) -> None:
        try:
            self._loop()
        finally:  # the thread owns the source and the slot: nothing closes them under its feet
            self.source.close()
            if self.slot is not None:
                self.slot.close()

    def _loop(self) -> None:
        src_fps = self.source.fps if (self.realtime and not self.source.live) else None
        cap_fps = self.spec.fps
        t0 = time.monotonic()
        n_src = 1  # source frames consumed (the first one was published in start())
        next_pub = t0  # the profile's camera rate: a schedule, so jitter in the source does not drop frames
        window_start, window_frames = t0, 0
        backoff = 0.5
        while not self._stop.is_set():
            if src_fps:  # a file plays at its own rate: wait for the next frame's time, skip if behind
                due = t0 + n_src / src_fps
                now = time.monotonic()
                if now < due:
                    self._stop.wait(due - now)
                    continue
                while time.monotonic() - due > 1.0 / src_fps:  # more than a frame behind: skip one
                    self.source.skip()
                    self.stats.dropped += 1
                    n_src += 1
                    due = t0 + n_src / src_fps
            image = self.source.read()
            n_src += 1
            if image is None:
                self.stats.error = f"no frame from {self.source.description}; reopening"
                log.warning("camera: %s", self.stats.error)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                self._reopen()
                continue
            backoff, self.stats.error = 0.5, None
            now = time.monotonic()
            if cap_fps:
                if now < next_pub:
                    self.stats.dropped += 1  # the profile's camera is slower than the source
                    continue
                next_pub = max(next_pub + 1.0 / cap_fps, now - 1.0 / cap_fps)
            self._publish(fit_to_format(image, *self._size))
            window_frames += 1
            if now - window_start >= 1.0:
                self.stats.fps = window_frames / (now - window_start)
                window_start, window_frames = now, 0

    def _reopen(self) -> None:
        try:
            self.source.close()
            self.source.open()
            self.stats.reconnects += 1
        except Exception as exc:  # noqa: BLE001 - the camera keeps trying; the status says why
            self.stats.error = str(exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                log.warning("camera: %s did not return from a read within 10 s; it is closed when it does",
                            self.source.description)
        else:  # never started: close what start() may have opened
            self.source.close()
            if self.slot is not None:
                self.slot.close()
