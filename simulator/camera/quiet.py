"""OpenCV and FFmpeg kept off the terminal while the camera opens a source: the simulator says what went wrong.

Two logs reach stderr when a source cannot be opened. OpenCV's own (``[ WARN:0@0.1] global cap_v4l.cpp:914 open
VIDEOIO(V4L2:/dev/video0): can't open camera by index`` for every webcam probed) can be lowered and restored at
any time, so it is silenced only for the duration of ``quiet_opencv()``. FFmpeg's (``[mov,mp4,m4a,3gp,3g2,mj2 @
0x…] moov atom not found``, ``[tcp @ 0x…] Connection to tcp://… failed: Connection refused``) is set up by OpenCV
once, when a process first uses FFmpeg, from ``OPENCV_FFMPEG_LOGLEVEL``: that variable is put into this process's
C environment (where OpenCV reads it) as FFmpeg's "quiet" level before any source is opened, which keeps FFmpeg
quiet for the rest of the process, frames read later included. It is not added to ``os.environ``, so the Lambda
and broker processes, started with copies of ``os.environ``, keep FFmpeg's usual log.

To see the libraries' messages, set ``OPENCV_FFMPEG_LOGLEVEL`` (FFmpeg's levels: 16 errors, 24 warnings, 32 info)
or ``OPENCV_FFMPEG_DEBUG``, and ``OPENCV_LOG_LEVEL=INFO`` (or ``DEBUG``): they are then left as they are.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import cv2

__all__ = ["FFMPEG_LOG_VARIABLE", "quiet_ffmpeg", "quiet_opencv"]

FFMPEG_LOG_VARIABLE = "OPENCV_FFMPEG_LOGLEVEL"
_FFMPEG_QUIET = "-8"  # AV_LOG_QUIET
_OPENCV_LOG = cv2.utils.logging

_lock = threading.Lock()
_depth = 0  # quiet_opencv() blocks running now, on any thread
_restore_level: int | None = None  # OpenCV's log level before the first of them
_ffmpeg_done = False


def quiet_ffmpeg() -> None:
    """Make FFmpeg quiet in this process (see the module docstring) unless the user chose its log level. Effective
    only before OpenCV first uses FFmpeg here; calling it again does nothing."""
    global _ffmpeg_done
    if _ffmpeg_done:
        return
    _ffmpeg_done = True
    if FFMPEG_LOG_VARIABLE not in os.environ and "OPENCV_FFMPEG_DEBUG" not in os.environ:
        os.putenv(FFMPEG_LOG_VARIABLE, _FFMPEG_QUIET)


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Open capture devices and files inside this block: OpenCV logs nothing meanwhile (unless its level was raised
    to INFO or more), and FFmpeg nothing at all. Blocks may run at once on several threads: OpenCV's level, one
    for the whole process, is restored when the last of them ends."""
    global _depth, _restore_level
    quiet_ffmpeg()
    with _lock:
        if _depth == 0:
            level = _OPENCV_LOG.getLogLevel()
            if level <= _OPENCV_LOG.LOG_LEVEL_WARNING:  # above WARNING: someone asked for diagnostics, keep them
                _restore_level = _OPENCV_LOG.setLogLevel(_OPENCV_LOG.LOG_LEVEL_SILENT)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _restore_level is not None:
                _OPENCV_LOG.setLogLevel(_restore_level)
                _restore_level = None


quiet_ffmpeg()  # before anything in this process opens a video: FFmpeg reads the level once, at its first use
