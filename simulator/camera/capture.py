"""Sources read through OpenCV's VideoCapture: video files (looping), webcams and network streams (live).

Timeouts, by backend: FFmpeg and GStreamer honour ``CAP_PROP_OPEN_TIMEOUT_MSEC``/``CAP_PROP_READ_TIMEOUT_MSEC``
(given when opening), so streams are opened through FFmpeg with both set. V4L2 (webcams) ignores them and waits
``OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT`` seconds (default 10) per frame; it is lowered here unless the user set it.
Either way live reads run on a reader thread (see ``live.py``), so no timeout is needed to keep the camera
thread responsive: they only bound how long an abandoned connection lingers. Devices and files are opened inside
``quiet_opencv()``: a source that cannot be opened is reported once, by the simulator, not by OpenCV and FFmpeg.

A video file is decoded on one thread (``CAP_PROP_N_THREADS``), not FFmpeg's one per core: the camera decodes
beside the Lambda's inference, and on a machine whose cores the model keeps busy every extra decoder thread takes
a core from one of OpenVINO's threads, which the others then wait for. On two cores, with ``--every-frame`` on a
4 MP clip, the simulator's rate against the plain loop's was about 0.03 higher on one decoder thread than on
FFmpeg's two (``bench/spine_interleaved.py``, four runs alternating the two ways: docs/performance-history.md).
A camera that cannot keep up on one thread asks for more (``decode_faster``): the file is reopened on FFmpeg's own
number, at the frame it was at.
"""

from __future__ import annotations

import os
import re

import cv2
import numpy as np

from simulator.camera.base import Source
from simulator.camera.live import LiveSource
from simulator.camera.quiet import quiet_opencv
from simulator.errors import DEMO_HINT, SourceError

os.environ.setdefault("OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT", "5")


def _rate(cap: cv2.VideoCapture) -> float | None:
    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if fps and 1 <= fps <= 240 else None


class CaptureSource(Source):
    """A video file, played from the camera thread at its own rate, looping at the end."""

    def __init__(self, path: str, description: str, loop: bool = True) -> None:
        self.target, self.description, self.loop = path, description, loop
        self._cap: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None
        self.threads = 1  # decoder threads (0: FFmpeg's choice, one per core)

    def _capture(self) -> cv2.VideoCapture:
        """The file opened with ``threads`` decoder threads; a backend that takes no thread count opens it as it
        would (OpenCV's FFmpeg backend refuses a file it is given a setting for that it does not know)."""
        if self.threads:
            cap = cv2.VideoCapture(self.target, cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, self.threads])
            if cap.isOpened():
                return cap
            cap.release()
        return cv2.VideoCapture(self.target)

    def decode_faster(self) -> bool:
        """Decode on FFmpeg's own number of threads from the next frame on (the camera could not keep up on one).
        False: it does already, or the file could not be reopened (it plays on as it was)."""
        if not self.threads or self._cap is None:
            return False
        position = self._cap.get(cv2.CAP_PROP_POS_FRAMES)
        self.threads, old = 0, self.threads
        with quiet_opencv():
            cap = self._capture()
            if cap.isOpened() and position > 0:
                cap.set(cv2.CAP_PROP_POS_FRAMES, position)
        if not cap.isOpened():
            cap.release()
            self.threads = old
            return False
        self._cap.release()
        self._cap = cap
        return True

    def open(self) -> None:
        self.close()
        with quiet_opencv():
            cap = self._capture()
            frame = cap.read()[1] if cap.isOpened() else None
        if frame is None:
            cap.release()
            raise SourceError(f"cannot open source {self.description}: no frame could be read",
                              hint=f"check the file, or {DEMO_HINT}")
        self._first, self._cap = frame, cap
        self.fps = _rate(cap) or 30.0
        self.error = None

    def read(self) -> np.ndarray | None:
        return self._read(None)

    def read_into(self, out: np.ndarray) -> np.ndarray | None:
        """Decoded straight into ``out`` when the video's frames have its shape (OpenCV converts into it)."""
        return self._read(out)

    def _read(self, out: np.ndarray | None) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        if self._cap is None:
            self.error = f"{self.description} is not open"
            return None
        ok, frame = self._cap.read(out)
        if not ok and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read(out)
        if not ok:
            self.error = f"no frame could be read from {self.description}"
            return None
        return frame

    def skip(self) -> None:
        if self._cap is not None and not self._cap.grab() and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._first = None


class _OpenCvDevice:
    """A webcam or stream: ``grab`` takes a frame off the device (V4L2 dequeues the buffer; FFmpeg decodes the
    packet), ``retrieve`` converts it to BGR (V4L2: the MJPEG decode or YUYV conversion)."""

    def __init__(self, cap: cv2.VideoCapture) -> None:
        self.cap = cap

    def read(self) -> np.ndarray | None:
        ok, frame = self.cap.read()
        return frame if ok else None

    def grab(self) -> bool:
        return bool(self.cap.grab())

    def retrieve(self) -> np.ndarray | None:
        ok, frame = self.cap.retrieve()
        return frame if ok else None

    def close(self) -> None:
        self.cap.release()


class WebcamSource(LiveSource):
    """A webcam by index (V4L2 on Linux). Unplugged, it stops delivering; plugged back, it is reopened."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index
        self.description = f"webcam {index}"

    def _cannot_open(self) -> str:
        return f"cannot open camera webcam {self.index}"

    def _lost_message(self) -> str:
        return f"webcam {self.index} stopped delivering frames (unplugged?)"

    def _connect(self) -> _OpenCvDevice:
        with quiet_opencv():
            cap = cv2.VideoCapture(self.index)
        if not cap.isOpened():
            cap.release()
            raise SourceError("no such camera, or another program is using it")
        self.fps = _rate(cap)
        return _OpenCvDevice(cap)


def redact(url: str) -> str:
    """The URL without the password of ``scheme://user:password@host`` (it shows in the status and logs)."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^/@:]*):[^/@]*@", r"\1:***@", url, flags=re.I)


class StreamSource(LiveSource):
    """A network stream (RTSP, HTTP MJPEG, ...) read through FFmpeg with open and read timeouts."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.description = redact(url)

    def _connect(self) -> _OpenCvDevice:
        with quiet_opencv():
            if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG):
                # FFmpeg gives up on a silent connection after twice the stall time: the camera's own wait (see
                # LiveSource.read) reports the stall first, as "no frame … for N s (stalled)"
                params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout * 1000),
                          cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(2 * self.stall_timeout * 1000)]
                cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
            else:  # an OpenCV built without FFmpeg: whatever backend takes the URL, without timeouts
                cap = cv2.VideoCapture(self.url)
        if not cap.isOpened():
            cap.release()
            raise SourceError("no connection, or no video stream at that address")
        self.fps = _rate(cap)
        return _OpenCvDevice(cap)
