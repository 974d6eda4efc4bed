"""An image file repeated, or the images of a folder in name order, looping; every frame at the first image's size.

A folder may hold entries that cannot be read (a folder named ``x.jpg``, a truncated download, a file without read
permission): each is skipped, counted in ``skipped`` and logged once. Only a folder with nothing readable fails.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from simulator.camera.base import Source
from simulator.camera.quiet import quiet_opencv
from simulator.errors import SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
_UNREADABLE = "not a readable image file"


def _problem(path: Path) -> str | None:
    """Why ``path`` cannot be an image (None: it may be one)."""
    if path.is_dir():
        return "it is a folder, not an image"
    if not path.exists():
        return "it no longer exists"
    return None


def load_image(path: Path) -> np.ndarray:
    """The image at ``path`` as BGR; SourceError naming the file if it cannot be read."""
    problem = _problem(path)
    with quiet_opencv():  # OpenCV's own warning for an unreadable file would come before the simulator's message
        image = None if problem else cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SourceError(f"cannot open image {path}: {problem or _UNREADABLE}")
    return image


class ImagesSource(Source):
    """One image, or a folder of images, played at ``fps`` frames per second."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = Path(path), fps
        self.description = str(path)
        self._files: list[Path] = []
        self._i = 0
        self._size: tuple[int, int] | None = None
        self._first: np.ndarray | None = None
        self._still: np.ndarray | None = None  # a single image file: decoded once
        self._bad: set[Path] = set()  # unreadable since the last open
        self._reported: set[Path] = set()  # logged (once each, for the whole run)

    @property
    def skipped(self) -> int:  # type: ignore[override]
        return len(self._reported)

    def _reject(self, path: Path, why: str) -> None:
        self._bad.add(path)
        if path not in self._reported:
            self._reported.add(path)
            log.warning("camera: skipping %s: %s", path, why)

    def _load(self, path: Path) -> np.ndarray | None:
        why = _problem(path)
        image = None if why else cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            self._reject(path, why or _UNREADABLE)
        return image

    def open(self) -> None:
        self._bad.clear()
        self._still = self._first = None
        if not self.path.is_dir():
            self._still = load_image(self.path)
            self._files, self._size = [self.path], (self._still.shape[1], self._still.shape[0])
            self.error = None
            return
        files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"cannot open folder {self.path}: it holds no images "
                              f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        for i, path in enumerate(files):
            image = self._load(path)
            if image is not None:
                self._files, self._first, self._i = files, image, i + 1
                if self._size is None:  # a reopened folder keeps the size frames were published at
                    self._size = (image.shape[1], image.shape[0])
                self.error = None
                return
        raise SourceError(f"cannot open folder {self.path}: none of the {len(files)} images in {self.path} "
                          f"can be read", hint="each was logged with its reason")

    def read(self) -> np.ndarray | None:
        image = self._next()
        if image is None:
            self.error = f"none of the images in {self.path} can be read any more"
            return None
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        return image

    def _next(self) -> np.ndarray | None:
        if self._still is not None:
            return self._still
        if self._first is not None:
            image, self._first = self._first, None
            return image
        for _ in range(len(self._files)):
            path = self._files[self._i % len(self._files)]
            self._i += 1
            if path in self._bad:
                continue
            loaded = self._load(path)
            if loaded is not None:
                return loaded
        return None
