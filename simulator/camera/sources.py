"""Camera sources behind one interface: webcam, video file, RTSP/HTTP stream, image, image folder, test pattern.

``open_source(spec)`` turns what a user types after ``--source`` into a source:
``0`` (webcam index), ``demo`` (the bundled clip), ``pattern`` or ``pattern:1280x720@30``, ``rtsp://...`` /
``http://...``, a folder of images, an image file, or a video file.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from simulator.errors import SourceError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


class Source(ABC):
    """A source of BGR uint8 frames. ``fps`` is the rate it should be played at (None: as fast as it comes)."""

    description: str = ""
    fps: float | None = None
    live = False  # a live source paces itself (its read blocks until the next frame)

    @abstractmethod
    def open(self) -> None:
        """Raise SourceError with a clear message if the source cannot be used."""

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next frame; None if it could not be read (a live source may come back)."""

    def skip(self) -> None:
        """Drop the next frame cheaply (used when playback falls behind)."""
        self.read()

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


class CaptureSource(Source):
    """Anything cv2.VideoCapture opens: webcams, streams and video files (files loop)."""

    def __init__(self, target: int | str, description: str, live: bool, loop: bool = False) -> None:
        self.target, self.description, self.live, self.loop = target, description, live, loop
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        cap = cv2.VideoCapture(self.target)
        ok = cap.isOpened()
        frame = cap.read()[1] if ok else None
        if frame is None:
            cap.release()
            what = "camera" if isinstance(self.target, int) else "source"
            raise SourceError(f"cannot open {what} {self.description}: no frame could be read",
                              hint="check the device/URL/file, or use --source demo for the bundled clip")
        self._first: np.ndarray | None = frame
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1 <= fps <= 240 else (None if self.live else 30.0)
        self._cap = cap

    def read(self) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        assert self._cap is not None
        ok, frame = self._cap.read()
        if not ok and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        return frame if ok else None

    def skip(self) -> None:
        if self._cap is not None and not self._cap.grab() and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _load_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SourceError(f"cannot open image {path}: not a readable image file")
    return image


class ImagesSource(Source):
    """One image repeated, or the images of a folder in name order, looping; all at the first image's size."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = Path(path), fps
        self.description = str(path)
        self._files: list[Path] = []
        self._i = 0
        self._size: tuple[int, int] | None = None

    def open(self) -> None:
        if self.path.is_dir():
            self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._files:
                raise SourceError(f"cannot open folder {self.path}: it holds no images "
                                  f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        else:
            self._files = [self.path]
        first = _load_image(self._files[0])
        self._size = (first.shape[1], first.shape[0])
        self._cache = {0: first} if len(self._files) == 1 else {}

    def read(self) -> np.ndarray | None:
        i = self._i % len(self._files)
        self._i += 1
        image = self._cache.get(i)
        if image is None:
            try:
                image = _load_image(self._files[i])
            except SourceError:
                return None
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        return image


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


def open_source(spec: str, image_fps: float = 2.0) -> Source:
    """Build (but do not open) the source a spec names. Raises SourceError for specs that name nothing."""
    spec = spec.strip()
    if re.fullmatch(r"\d+", spec):
        return CaptureSource(int(spec), f"webcam {spec}", live=True)
    if spec == "demo":
        from simulator.camera.democlip import ensure_demo_clip
        return CaptureSource(str(ensure_demo_clip()), "demo clip", live=False, loop=True)
    m = _PATTERN.match(spec)
    if m:
        w, h, fps = m.groups()
        return PatternSource(int(w or 1280), int(h or 720), float(fps or 30))
    if re.match(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp)://", spec, re.I):
        return CaptureSource(spec, spec, live=True)
    path = Path(spec).expanduser()
    if not path.exists():
        raise SourceError(f"cannot open source '{spec}': no such file or folder",
                          hint="use a webcam index (0), a video/image file, a folder of images, an "
                               "rtsp:// or http:// URL, 'pattern', or 'demo'")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImagesSource(path, fps=image_fps)
    return CaptureSource(str(path), str(path), live=False, loop=True)


def probe_webcam(index: int = 0) -> bool:
    """True if a webcam at ``index`` opens and yields a frame (quietly, quickly)."""
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
