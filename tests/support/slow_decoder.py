"""A real video file on a machine too slow for it: every decode (a frame read or skipped) takes three of the file's
frame intervals, as a 4K clip does on a small board."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from simulator.camera.capture import CaptureSource

DECODE_S = 0.1  # the clip plays at 30 fps: a frame every 0.033 s


class SlowDecoder(CaptureSource):
    def __init__(self, path: Path) -> None:
        super().__init__(str(path), f"slow {Path(path).name}")

    def _read(self, out: np.ndarray | None) -> np.ndarray | None:
        time.sleep(DECODE_S)
        return super()._read(out)

    def skip(self) -> None:
        time.sleep(DECODE_S)
        super().skip()
