"""A stand-in for the device's awscam in the Python 2 Lambda tests: a fixed 640x480 frame."""

from __future__ import annotations

import numpy as np

FRAME_SHAPE = (480, 640, 3)


def getLastFrame():  # noqa: N802 - the device's name
    return True, np.full(FRAME_SHAPE, 128, np.uint8)
