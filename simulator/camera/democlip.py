"""The bundled demo clip: made on first use from photographs that ship inside scikit-image's wheel.

Nothing large is committed: the clip (about 20 s, 1280x720 at 30 fps) is rendered once into the cache with a
slow pan and zoom over each picture, so detectors see a person, a cat, a cup, a motorcycle and more.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from simulator.camera.quiet import quiet_opencv
from simulator.paths import cache_dir

log = logging.getLogger(__name__)

CLIP_VERSION = 1
SIZE = (1280, 720)
FPS = 30
SECONDS_PER_PICTURE = 4
PICTURES = ("astronaut", "chelsea", "coffee", "stereo_motorcycle", "camera")


def _picture(name: str) -> np.ndarray:
    from skimage import data  # imported here: only the first run needs it

    image = getattr(data, name)()
    if isinstance(image, tuple):  # stereo_motorcycle returns (left, right, disparity)
        image = image[0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return cv2.cvtColor(image[:, :, :3].astype(np.uint8), cv2.COLOR_RGB2BGR)


def _pan_zoom(image: np.ndarray, t: float) -> np.ndarray:
    """Frame at progress t in [0, 1]: zoom from 100 % to 85 % of the picture while panning across it."""
    w, h = SIZE
    target = w / h
    ih, iw = image.shape[:2]
    # the largest crop of the target aspect that fits, shrunk as t grows
    cw = min(iw, ih * target)
    ch = cw / target
    scale = 1.0 - 0.15 * t
    cw, ch = cw * scale, ch * scale
    x0 = (iw - cw) * (0.5 + 0.5 * (t - 0.5))
    y0 = (ih - ch) * 0.5
    m = np.array([[w / cw, 0, -x0 * w / cw], [0, h / ch, -y0 * h / ch]], dtype=np.float32)
    return cv2.warpAffine(image, m, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def render_demo_clip(path: Path) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}.mp4")
    with quiet_opencv():
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write mp4v video here")
    try:
        n = FPS * SECONDS_PER_PICTURE
        for name in PICTURES:
            image = _picture(name)
            for i in range(n):
                writer.write(_pan_zoom(image, i / (n - 1)))
    finally:
        writer.release()
    os.replace(tmp, path)


def ensure_demo_clip() -> Path:
    """The demo clip's path, rendering it first if the cache does not hold it yet."""
    path = cache_dir() / f"demo-clip-v{CLIP_VERSION}.mp4"
    if not path.exists():
        log.info("rendering the demo clip from scikit-image's sample pictures into %s (first run only)", path)
        render_demo_clip(path)
    return path
