"""Bring a frame, as a Lambda passes it, into the layout a network wants.

Lambdas pass HWC uint8 (most), HWC float32 in [0, 1], or CHW float32; sometimes at the size of a different
model. The layout is inferred from the array's shape against the expected input size.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_hwc(frame: np.ndarray, input_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Return the frame as HWC (channels last), keeping its dtype. 2-D frames become 3-channel."""
    frame = np.asarray(frame)
    if frame.ndim == 4 and frame.shape[0] == 1:
        frame = frame[0]
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim != 3:
        raise ValueError(f"expected a frame of shape (H, W, C) or (C, H, W), got shape {frame.shape}")
    chw_like = frame.shape[0] in (1, 3, 4) and frame.shape[2] not in (1, 3, 4)
    if input_hw is not None and frame.shape[1:] == tuple(input_hw) and frame.shape[2] != 3:
        chw_like = True
    if chw_like:
        frame = np.transpose(frame, (1, 2, 0))
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    elif frame.shape[2] == 4:
        frame = frame[:, :, :3]
    return frame


def to_uint8_hwc(frame: np.ndarray, size_hw: tuple[int, int] | None = None) -> np.ndarray:
    """HWC uint8 BGR at ``size_hw`` (if given): floats in [0, 1] are scaled to 0-255."""
    hwc = to_hwc(frame, size_hw)
    if hwc.dtype != np.uint8:
        arr = hwc.astype(np.float32)
        if arr.size and float(arr.max()) <= 1.0 + 1e-6:
            arr = arr * 255.0
        hwc = np.clip(arr, 0, 255).astype(np.uint8)
    if size_hw is not None and hwc.shape[:2] != tuple(size_hw):
        hwc = cv2.resize(hwc, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(hwc)
