"""Camera sources behind one interface: webcam, Pi camera, video file, RTSP/HTTP stream, image, folder, test pattern.

``open_source(spec)`` turns what a user types after ``--source`` into a source:
``0`` (webcam index), ``picamera`` or ``picamera:N`` (the Raspberry Pi camera module), ``demo`` (the bundled
clip), ``pattern`` or ``pattern:1280x720@30``, ``rtsp://...`` / ``http://...``, a folder of images, an image file,
or a video file. ``choose_source(spec)`` also picks the default and falls back when the Pi camera cannot be used.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import cv2
import numpy as np

from simulator.camera.base import Source
from simulator.camera.capture import CaptureSource, StreamSource, WebcamSource
from simulator.camera.images import IMAGE_SUFFIXES, ImagesSource
from simulator.camera.live import LiveSource
from simulator.camera.picamera import PicameraSource
from simulator.camera.quiet import quiet_opencv
from simulator.errors import SourceError

__all__ = ["CaptureSource", "ImagesSource", "LiveSource", "PatternSource", "PicameraSource", "Source",
           "StreamSource", "WebcamSource", "choose_source", "open_source", "probe_webcam"]

log = logging.getLogger(__name__)


class PatternSource(Source):
    """A synthetic test pattern: colour bars, a moving box and the frame number."""

    def __init__(self, width: int = 1280, height: int = 720, fps: float = 30.0) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.description = f"test pattern {width}x{height}@{fps:g}"
        self._n = 0

    def open(self) -> None:
        colors = [(255, 255, 255), (0, 255, 255), (255, 255, 0), (0, 255, 0),
                  (255, 0, 255), (0, 0, 255), (255, 0, 0), (0, 0, 0)]
        bars = np.zeros((self.height, self.width, 3), np.uint8)
        step = self.width / len(colors)
        for i, c in enumerate(colors):
            bars[:, int(i * step): int((i + 1) * step)] = c
        self._bars = bars

    def read(self) -> np.ndarray | None:
        self._n += 1
        frame = self._bars.copy()
        side = max(8, self.height // 6)
        x = int((self._n * 8) % max(1, self.width - side))
        y = self.height // 2 - side // 2
        cv2.rectangle(frame, (x, y), (x + side, y + side), (40, 40, 40), -1)
        cv2.putText(frame, f"{self._n:06d}", (10, self.height - 20), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.5, self.height / 480), (128, 128, 128), 2, cv2.LINE_AA)
        return frame


_PATTERN = re.compile(r"^pattern(?::(\d+)x(\d+)(?:@(\d+(?:\.\d+)?))?)?$")
_PICAMERA = re.compile(r"^picamera(?::(\d+))?$", re.I)
_URL = re.compile(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp)://", re.I)


def open_source(spec: str, image_fps: float = 2.0) -> Source:
    """Build (but do not open) the source a spec names. Raises SourceError for specs that name nothing."""
    spec = spec.strip()
    if re.fullmatch(r"\d+", spec):
        return WebcamSource(int(spec))
    if spec == "demo":
        from simulator.camera.democlip import ensure_demo_clip
        return CaptureSource(str(ensure_demo_clip()), "demo clip")
    m = _PICAMERA.match(spec)
    if m:
        return PicameraSource(int(m.group(1)) if m.group(1) else None)
    m = _PATTERN.match(spec)
    if m:
        w, h, fps = m.groups()
        return PatternSource(int(w or 1280), int(h or 720), float(fps or 30))
    if _URL.match(spec):
        return StreamSource(spec)
    path = Path(spec).expanduser()
    if not path.exists() and spec.lower().startswith("pattern:"):
        raise SourceError(f"cannot open source '{spec}': expected pattern, pattern:WxH or pattern:WxH@FPS",
                          hint="e.g. --source pattern:640x480@15")
    if not path.exists():
        raise SourceError(f"cannot open source '{spec}': no such file or folder",
                          hint="use a webcam index (0), 'picamera', a video/image file, a folder of images, an "
                               "rtsp:// or http:// URL, 'pattern' (or pattern:WxH@FPS), or 'demo'")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImagesSource(path, fps=image_fps)
    return CaptureSource(str(path), str(path))


def probe_webcam(index: int = 0) -> bool:
    """True if a webcam at ``index`` opens and yields a frame (quickly, and without a word from OpenCV: the desktop
    window probes several indexes to list the webcams)."""
    with quiet_opencv():
        cap = cv2.VideoCapture(index)
    try:
        if not cap.isOpened():
            return False
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if cap.read()[0]:
                return True
        return False
    finally:
        cap.release()


def _pi_camera_ready() -> bool:
    try:
        PicameraSource().check()
    except SourceError:
        return False
    return True


def _default_spec(try_pi_camera: bool = True) -> str:
    """The default source's spec: webcam 0 if one answers, else (if asked) the Pi camera module, else the demo clip."""
    if probe_webcam(0):
        return "0"
    if try_pi_camera and _pi_camera_ready():
        return "picamera"
    return "demo"


def choose_source(spec: str | None) -> Source:
    """The source to use: ``spec`` if given, else webcam 0, else the Pi camera module, else the bundled demo clip.

    ``picamera`` when the Pi camera cannot be used (picamera2 missing, no camera) falls back to webcam 0 or the demo
    clip, with one warning, before anything else is said of the fallback (rendering the demo clip on first use): why
    the Pi camera cannot be used, what plays instead, and how to fix it.
    """
    if spec is None:
        default = _default_spec()
        if default == "demo":
            log.info("no webcam found: playing the bundled demo clip")
        return open_source(default)
    source = open_source(spec)
    if isinstance(source, PicameraSource):
        try:
            source.check()
        except SourceError as exc:
            default = _default_spec(try_pi_camera=False)
            instead = ("no webcam found either: playing the bundled demo clip" if default == "demo"
                       else f"using webcam {default} instead")
            hint = f"\n  hint: {exc.hint}" if exc.hint else ""
            log.warning("camera: %s; %s%s", exc.message, instead, hint)
            return open_source(default)
    return source
