"""The device's file paths, inside a Lambda's process.

- ``/tmp/results.mjpeg`` (the project-stream FIFO): ``os.mkfifo`` / ``os.remove`` of it do nothing and
  ``open(it, 'w' | 'wb' | 'a')`` returns a ``ProjectStreamWriter`` into this device's shared slot.
- ``/opt/awscam/artifacts/...``: ``open``, ``os.path.exists / isfile / isdir`` and ``os.listdir`` see the
  simulator's artifacts folder (Lambdas read label files from there and check model files exist).
- ``/opt/awscam/out/ch1_out.h264`` and ``ch2_out.mjpeg`` (the device's raw streams): ``cv2.VideoCapture`` of
  them reads the camera's frames (ch1 full size, ch2 858x480), each ``read()`` waiting for a new frame as
  reading the real stream did.
"""

from __future__ import annotations

import builtins
import io
import os
import threading
import time

from simulator.ipc.context import DEVICE_ARTIFACTS, PROJECT_STREAM_PATH, DeviceContext
from simulator.ipc.frames import FrameSlot
from simulator.ipc.project_stream import ProjectStreamWriter
from simulator.ipc.slot import SharedSlot
from simulator.runtime.py2 import device_file, open_device_file

DEVICE_STREAMS: dict[str, tuple[int, int] | None] = {  # path -> the size it delivers (None: the camera's own)
    "/opt/awscam/out/ch1_out.h264": None, "/opt/awscam/out/ch2_out.mjpeg": (858, 480)}

_installed = threading.Lock()


def _abs(path) -> str | None:
    try:
        return os.path.abspath(os.fspath(path))
    except TypeError:
        return None  # a file descriptor, or something open() will reject anyway


def install(ctx: DeviceContext) -> None:
    """Patch this process's ``open``, ``os`` and ``cv2.VideoCapture`` for the device paths (once)."""
    if not _installed.acquire(blocking=False):
        return
    slot = SharedSlot.attach(ctx.project_stream_path)
    real_open, real_mkfifo = builtins.open, getattr(os, "mkfifo", None)
    real = {name: getattr(os, name) for name in ("remove", "unlink", "listdir")}
    real_path = {name: getattr(os.path, name) for name in ("exists", "isfile", "isdir")}

    def remap(path):
        text = _abs(path)
        if text is not None and (text == DEVICE_ARTIFACTS or text.startswith(DEVICE_ARTIFACTS + "/")):
            return str(ctx.remap(text))
        return path

    def open_(file, mode="r", *args, **kwargs):
        if _abs(file) == PROJECT_STREAM_PATH and any(c in mode for c in "wa"):
            return ProjectStreamWriter(slot)
        if not any(c in mode for c in "wax+"):
            data = device_file(_abs(file) or "", ctx.thing_name)  # e.g. the Wi-Fi MAC Lambdas use as an id
            if data is not None:
                return open_device_file(data, mode, *args, **kwargs)
        return real_open(remap(file), mode, *args, **kwargs)

    def mkfifo(path, mode=0o666, *args, **kwargs):
        if _abs(path) == PROJECT_STREAM_PATH:
            return None
        if real_mkfifo is None:
            raise OSError("mkfifo is not available on this system")
        return real_mkfifo(path, mode, *args, **kwargs)

    def keep_stream(name):
        def fn(path, *args, **kwargs):
            if _abs(path) == PROJECT_STREAM_PATH:
                return None
            return real[name](path, *args, **kwargs)
        return fn

    def listdir(path="."):
        return real["listdir"](remap(path))

    def path_fn(name):
        def fn(path):
            if name != "isdir" and device_file(_abs(path) or "", ctx.thing_name) is not None:
                return True
            return real_path[name](remap(path))
        return fn

    builtins.open = io.open = open_
    os.mkfifo = mkfifo
    os.remove, os.unlink, os.listdir = keep_stream("remove"), keep_stream("unlink"), listdir
    os.path.exists, os.path.isfile, os.path.isdir = (path_fn(n) for n in ("exists", "isfile", "isdir"))
    _patch_video_capture(ctx)


def _patch_video_capture(ctx: DeviceContext) -> None:
    import cv2

    real_capture = cv2.VideoCapture

    class VideoCapture:
        """cv2.VideoCapture, except that the device's raw-stream paths read the simulated camera.

        A wrapper, not a subclass: OpenCV's binding types crash the garbage collector when subclassed."""

        def __init__(self, *args, **kwargs):
            target = _abs(args[0]) if args and isinstance(args[0], (str, os.PathLike)) else None
            device_stream = target is not None and target in DEVICE_STREAMS
            self._size = DEVICE_STREAMS.get(target) if target is not None else None
            self._real = None if device_stream else real_capture(*args, **kwargs)
            self._slot: FrameSlot | None = FrameSlot.attach(ctx.frames_path) if device_stream else None
            self._last = 0

        def __getattr__(self, name):
            if self._real is None:
                raise AttributeError(f"the simulated device stream has no {name}()")
            return getattr(self._real, name)

        def isOpened(self):  # noqa: N802 - OpenCV's name
            return self._slot is not None if self._real is None else self._real.isOpened()

        def grab(self):
            return True if self._real is None else self._real.grab()

        def get(self, prop):
            if self._real is not None:
                return self._real.get(prop)
            frame = self._slot.read() if self._slot is not None else None
            size = self._size or ((frame.image.shape[1], frame.image.shape[0]) if frame else (0, 0))
            return {cv2.CAP_PROP_FRAME_WIDTH: size[0], cv2.CAP_PROP_FRAME_HEIGHT: size[1]}.get(prop, 0.0)

        def read(self, image=None):
            if self._real is not None:
                return self._real.read(image)
            if self._slot is None:
                return False, None
            deadline = time.monotonic() + 5.0
            while True:
                frame = self._slot.read()
                if frame is not None and frame.index != self._last:
                    break
                if time.monotonic() > deadline:
                    return False, None
                time.sleep(0.002)
            self._last = frame.index
            if self._size is None:
                return True, frame.image
            return True, cv2.resize(frame.image, self._size, interpolation=cv2.INTER_AREA)

        def release(self):
            if self._real is not None:
                self._real.release()
            elif self._slot is not None:
                self._slot.close()
                self._slot = None

    cv2.VideoCapture = VideoCapture  # type: ignore[misc,assignment]
