"""A small live picture of a device for the instructor's view: a JPEG (320 px wide, quality 60) published on
``deeplens/<thing>/thumbnail`` about once a second, made from the project stream (what the Lambda draws) or,
while there is none, from the camera.

    publisher = ThumbnailPublisher(device_frames(device), device.link.publish, device.thing_name).start()
    publisher.stop()

``frame_source`` returns the newest picture — JPEG bytes or a BGR image — or None; a picture the same as the one
published last is not published again, so a stalled device goes quiet instead of repeating itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from simulator.fleet.topics import thumbnail_topic

log = logging.getLogger(__name__)

WIDTH = 320
QUALITY = 60

Picture = bytes | np.ndarray


def make_thumbnail(picture: Picture, width: int = WIDTH, quality: int = QUALITY) -> bytes | None:
    """``picture`` (JPEG bytes or a BGR image) scaled to ``width`` wide (never up) as a JPEG; None if it cannot
    be decoded."""
    image = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR) if isinstance(picture, bytes) \
        else picture
    if image is None or image.size == 0:
        return None
    h, w = image.shape[:2]
    if w > width:
        image = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else None


def device_frames(device: Any) -> Callable[[], Picture | None]:
    """The newest picture of a ``SimulatedDevice``: its project-stream JPEG, else its camera frame."""

    def latest() -> Picture | None:
        got = device.project_jpeg()
        if got is not None:
            return got[1]
        frame = device.device_frame()
        return frame.image if frame is not None else None

    return latest


class ThumbnailPublisher:
    def __init__(self, frame_source: Callable[[], Picture | None], publish: Callable[[str, bytes], Any],
                 thing: str, period: float = 1.0, width: int = WIDTH, quality: int = QUALITY) -> None:
        self.frame_source, self.publish, self.thing = frame_source, publish, thing
        self.period, self.width, self.quality = period, width, quality
        self.topic = thumbnail_topic(thing)
        self.published = 0
        self._last: Picture | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed = False

    def start(self) -> ThumbnailPublisher:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"thumbnail {self.thing}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.publish_once()
            except Exception:  # noqa: BLE001 - a thumbnail is never worth stopping the device for
                if not self._failed:
                    log.exception("thumbnail of %s failed (said once)", self.thing)
                self._failed = True

    def _same(self, picture: Picture) -> bool:
        last = self._last
        if isinstance(picture, bytes) and isinstance(last, bytes):
            return picture == last
        return picture is last

    def publish_once(self) -> bool:
        """Publish the newest picture if it is new; True if one was published."""
        picture = self.frame_source()
        if picture is None or self._same(picture):
            return False
        jpeg = make_thumbnail(picture, self.width, self.quality)
        if jpeg is None:
            return False
        self._last = picture
        self.publish(self.topic, jpeg)
        self.published += 1
        return True
