"""The Raspberry Pi camera module through Picamera2 (libcamera): ``--source picamera`` or ``picamera:N``.

Picamera2 names pixel formats as libcamera does, by 32-bit word order on a little-endian machine: an "RGB888"
array holds B, G, R per pixel — OpenCV's BGR — while "BGR888" holds R, G, B. So the main stream is asked for as
"RGB888" and handed on unconverted. Picamera2 comes from Raspberry Pi OS's packages (it needs the system's
libcamera bindings), so a venv sees it only when made with ``--system-site-packages``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from simulator.camera.live import LiveSource, describe
from simulator.errors import SourceError

log = logging.getLogger(__name__)

OPENCV_ORDER = "RGB888"  # B, G, R in memory (see the module docstring)
INSTALL_HINT = ("on Raspberry Pi OS: sudo apt install python3-picamera2, and make the simulator's venv with "
                "--system-site-packages (python3 -m venv --system-site-packages venv) so that it sees the package")
NO_CAMERA_HINT = ("check the ribbon cable (connected with the Pi switched off, contacts the right way round); "
                  "'rpicam-hello --list-cameras' lists the cameras libcamera sees")


def picamera2_class() -> Any:
    """Picamera2, or SourceError saying why it cannot be imported and how to install it."""
    try:
        from picamera2 import Picamera2
    except ModuleNotFoundError as exc:
        if exc.name == "picamera2":
            raise SourceError("cannot use the Pi camera: the picamera2 module is not installed in this Python "
                              "environment", hint=INSTALL_HINT) from None
        raise SourceError(f"cannot use the Pi camera: picamera2 is installed but cannot be imported "
                          f"({describe(exc)}); it needs the Pi's libcamera Python bindings, which come with "
                          f"Raspberry Pi OS's package", hint=INSTALL_HINT) from None
    except Exception as exc:  # noqa: BLE001 - a broken install can raise anything while importing
        raise SourceError(f"cannot use the Pi camera: importing picamera2 failed ({describe(exc)})",
                          hint=INSTALL_HINT) from None
    return Picamera2


def find_camera(picamera2: Any, number: int | None) -> tuple[int, dict]:
    """(index, info) of the camera to open: ``number``, or the first camera module (libcamera lists USB webcams
    too). SourceError if libcamera sees none or not that one."""
    try:
        cameras = list(picamera2.global_camera_info())
    except Exception as exc:  # noqa: BLE001 - libcamera failing to enumerate is reported, not raised through
        raise SourceError(f"cannot use the Pi camera: libcamera cannot list cameras ({describe(exc)})",
                          hint=NO_CAMERA_HINT) from None
    if not cameras:
        raise SourceError("cannot use the Pi camera: picamera2 is installed but libcamera finds no camera",
                          hint=NO_CAMERA_HINT)
    models = ", ".join(str(c.get("Model", "?")) for c in cameras)
    if number is not None:
        if not 0 <= number < len(cameras):
            raise SourceError(f"no Pi camera {number}: libcamera sees {len(cameras)} ({models})",
                              hint=f"use picamera (the first) or picamera:0 to picamera:{len(cameras) - 1}")
        return number, cameras[number]
    for i, info in enumerate(cameras):
        if "usb" not in str(info.get("Id", "")).lower():
            return i, info
    return 0, cameras[0]


class _PiDevice:
    def __init__(self, camera: Any) -> None:
        self.camera = camera

    def read(self) -> np.ndarray | None:
        frame = self.camera.capture_array("main")
        if frame.ndim == 3 and frame.shape[2] == 4:  # a 32-bit format: B, G, R, X
            frame = frame[:, :, :3]
        return frame

    def close(self) -> None:
        try:
            self.camera.stop()
        finally:
            self.camera.close()


class PicameraSource(LiveSource):
    """The Pi camera module, configured for video at the profile's frame size and rate."""

    def __init__(self, number: int | None = None) -> None:
        super().__init__()
        self.number = number
        self.description = "Pi camera" if number is None else f"Pi camera {number}"
        self._size: tuple[int, int] | None = None
        self._frame_rate: float | None = None
        self._picamera2: Any = None
        self._index = 0

    def request_format(self, width: int | None, height: int | None, fps: float | None) -> None:
        self._size = (width, height) if width and height else None
        self._frame_rate = fps

    def check(self) -> str:
        """The camera's model; SourceError (with the fix in its hint) if picamera2 or the camera is missing."""
        self._picamera2 = picamera2_class()
        self._index, info = find_camera(self._picamera2, self.number)
        return str(info.get("Model", "camera"))

    def open(self) -> None:
        model = self.check()
        log.info("camera: Pi camera %d is a %s", self._index, model)
        super().open()

    def _cannot_open(self) -> str:
        return f"cannot open the {self.description}"

    def _lost_message(self) -> str:
        return f"the {self.description} stopped delivering frames"

    def _connect(self) -> _PiDevice:
        try:
            camera = self._picamera2(self._index)
        except RuntimeError as exc:
            raise SourceError(f"libcamera could not open it ({describe(exc)}); is another program such as "
                              f"rpicam-hello using it?") from None
        try:
            main: dict[str, Any] = {"format": OPENCV_ORDER}
            if self._size:
                main["size"] = self._size
            controls = {}
            if self._frame_rate:
                frame_us = round(1e6 / self._frame_rate)
                controls["FrameDurationLimits"] = (frame_us, frame_us)
            camera.configure(camera.create_video_configuration(main=main, controls=controls))
            camera.start()
        except BaseException:
            camera.close()
            raise
        return _PiDevice(camera)
