"""One H.264 segment file: fragmented MP4 written with PyAV's bundled libx264.

Fragmented (``frag_keyframe+empty_moov``): the header is written first and a fragment is appended at every
keyframe (one a second), so a segment is playable while it grows, and a process killed mid-segment leaves a file
that plays up to its last fragment. x264 runs with ``ultrafast``/``zerolatency`` on one thread: no look-ahead (a
frame is written as soon as it is encoded, ``close()`` has nothing to drain) and at most one core taken from the
Lambda's inference.

PyAV is imported on first use: ``require_av()`` says how to install it when it is missing.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

log = logging.getLogger(__name__)

AV_REQUIREMENT = "av==18.1.0"
TIME_BASE = Fraction(1, 90_000)  # the usual clock of MPEG video timestamps
# a fragment per keyframe, each written whole to the file at once (readers of a growing file never see half of one)
_MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}


class EncoderUnavailableError(RuntimeError):
    """PyAV (the H.264 encoder) is not installed."""


def require_av() -> ModuleType:
    """The ``av`` module, or EncoderUnavailableError saying how to install it."""
    try:
        import av
    except ImportError as exc:
        raise EncoderUnavailableError(
            f"Kinesis Video recording needs PyAV for H.264 encoding (OpenCV's build has no H.264 encoder): "
            f"pip install {AV_REQUIREMENT} ({exc})") from None
    return av


def even_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) scaled down to fit ``max_side`` on the longer side, both even (4:2:0 needs it), never 0."""
    scale = min(1.0, max_side / max(width, height))
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    return w - w % 2, h - h % 2


def to_encoder_size(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A BGR (or grey) image resized to ``size`` (width, height), as BGR uint8."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if (image.shape[1], image.shape[0]) != size:
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    return image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)


class SegmentWriter:
    """``write(bgr, timestamp_ns)`` frames of one size into ``path``; ``close()`` finishes the file.

    Timestamps are the frames' capture times: the segment keeps the camera's real (possibly variable) rate.
    A timestamp that does not move forward is nudged 1 ms past the previous one.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        av = require_av()
        if width % 2 or height % 2:
            raise ValueError(f"H.264 4:2:0 needs an even frame size, got {width}x{height}")
        self.path = Path(path)
        self.size = (width, height)
        self.frames = 0
        self._av = av
        self._first_ns: int | None = None
        self._last_pts = -1
        keyint = max(1, round(fps))
        self._container = av.open(str(self.path), mode="w", format="mp4", options=_MP4_OPTIONS)
        try:
            stream = self._container.add_stream("libx264", rate=Fraction(keyint, 1))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.time_base = TIME_BASE
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "threads": "1",
                              "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0"}
        except BaseException:
            self._container.close()
            raise
        self._stream = stream

    @property
    def duration_s(self) -> float:
        return self._last_pts / TIME_BASE.denominator if self._last_pts > 0 else 0.0

    def write(self, image: np.ndarray, timestamp_ns: int) -> None:
        if (image.shape[1], image.shape[0]) != self.size:
            w, h = self.size
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, the segment is {w}x{h}")
        if self._first_ns is None:
            self._first_ns = timestamp_ns
        pts = (timestamp_ns - self._first_ns) * TIME_BASE.denominator // 1_000_000_000
        if pts <= self._last_pts:
            pts = self._last_pts + TIME_BASE.denominator // 1000
        i420 = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2YUV_I420)
        frame = self._av.VideoFrame.from_ndarray(i420, format="yuv420p")
        frame.pts, frame.time_base = pts, TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._last_pts = pts
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file (safe to call twice)."""
        container, self._container = self._container, None
        if container is None:
            return
        try:
            for packet in self._stream.encode(None):
                container.mux(packet)
        finally:
            container.close()
