"""Frames and the latest-frame slot that carries them from the camera to Lambda processes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.ipc.slot import SharedSlot


@dataclass(frozen=True)
class Frame:
    """One camera frame: BGR uint8 (H, W, 3), its capture time and its running index (from 1)."""

    image: np.ndarray
    timestamp_ns: int
    index: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.image.shape[1], self.image.shape[0]


class FrameSlot:
    """The newest frame in shared memory. The camera writes; any process reads without blocking."""

    def __init__(self, slot: SharedSlot) -> None:
        self._slot = slot
        self.path = slot.path

    @classmethod
    def create(cls, path: Path, width: int, height: int, channels: int = 3) -> FrameSlot:
        return cls(SharedSlot.create(path, width * height * channels))

    @classmethod
    def attach(cls, path: Path) -> FrameSlot:
        return cls(SharedSlot.attach(path))

    @property
    def seq(self) -> int:
        return self._slot.seq

    def write(self, image: np.ndarray, timestamp_ns: int | None = None) -> int:
        h, w = image.shape[:2]
        c = image.shape[2] if image.ndim == 3 else 1
        return self._slot.write(image, meta=(h, w, c), timestamp_ns=timestamp_ns)

    def read(self) -> Frame | None:
        got = self._slot.read()
        if got is None:
            return None
        h, w, c = got.meta[:3]
        shape = (h, w, c) if c > 1 else (h, w)
        return Frame(got.data.reshape(shape), got.timestamp_ns, got.seq)

    def close(self) -> None:
        self._slot.close()

    def __enter__(self) -> FrameSlot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
