"""Reading an MJPEG stream (multipart/x-mixed-replace) over real HTTP, as a browser does."""

from __future__ import annotations

import time

import cv2
import numpy as np
import requests


def read_mjpeg_frames(url: str, count: int, timeout: float = 60.0) -> list[np.ndarray]:
    """Decode ``count`` JPEG parts from a multipart/x-mixed-replace stream."""
    frames: list[np.ndarray] = []
    with requests.get(url, stream=True, timeout=timeout) as resp:
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        buf = b""
        deadline = time.monotonic() + timeout
        for chunk in resp.iter_content(chunk_size=65536):
            buf += chunk
            while True:
                start, end = buf.find(b"\xff\xd8"), buf.find(b"\xff\xd9")
                if start < 0 or end < 0:
                    break
                if end < start:
                    buf = buf[start:]
                    continue
                image = cv2.imdecode(np.frombuffer(buf[start:end + 2], np.uint8), cv2.IMREAD_COLOR)
                buf = buf[end + 2:]
                if image is not None:
                    frames.append(image)
            if len(frames) >= count or time.monotonic() > deadline:
                break
    return frames
