"""``--source picamera``: the Raspberry Pi camera module through Picamera2, and clear messages when it cannot be used.

picamera2 needs libcamera and a Pi: neither exists on this machine. The "not installed" message is tested for
real. The capture path runs against a stand-in ``picamera2`` module put into ``sys.modules``: it follows Picamera2's
documented API (``Picamera2(camera_num)``, ``global_camera_info()``, ``create_video_configuration(main=...,
controls=...)``, ``configure``, ``start``, ``capture_array("main")``, ``stop``, ``close``) and its documented
memory layouts: libcamera names formats by 32-bit word order, so "RGB888" arrays hold B, G, R per pixel and
"BGR888" arrays hold R, G, B; the 32-bit "XRGB8888" holds B, G, R, 255 and "XBGR8888" R, G, B, 255.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import time
import types

import numpy as np
import pytest

from simulator.camera.camera import Camera
from simulator.camera.sources import choose_source, open_source
from simulator.errors import SourceError
from simulator.profiles import load_profile

_LAYOUT = {"RGB888": (2, 1, 0), "BGR888": (0, 1, 2), "XRGB8888": (2, 1, 0, 3), "XBGR8888": (0, 1, 2, 3)}


class _StandInPicamera2:
    """Behaves as Picamera2 does, over a scene whose left half is pure red and right half pure blue."""

    cameras: list[dict] = [{"Model": "imx708", "Location": 2, "Rotation": 180,
                            "Id": "/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a"}]
    opened: list[_StandInPicamera2] = []
    fail_after: int | None = None  # capture_array raises after this many frames (the ribbon cable comes loose)
    lock = threading.Lock()

    @staticmethod
    def global_camera_info() -> list[dict]:
        return [dict(c) for c in _StandInPicamera2.cameras]

    def __init__(self, camera_num: int = 0, tuning: object = None) -> None:
        if camera_num >= len(self.cameras):
            raise RuntimeError("Camera __init__ sequence did not complete.")
        with self.lock:
            if any(c.camera_num == camera_num and not c.closed for c in self.opened):
                raise RuntimeError("Camera __init__ sequence did not complete.")  # busy: still held
            self.opened.append(self)
        self.camera_num, self.closed, self.started, self.config, self.frames = camera_num, False, False, None, 0

    def create_video_configuration(self, main: dict | None = None, lores: dict | None = None,
                                   raw: dict | None = None, controls: dict | None = None, **kwargs) -> dict:
        stream = {"format": "XBGR8888", "size": (1280, 720)}
        stream.update(main or {})
        return {"use_case": "video", "main": stream, "lores": lores, "raw": raw, "controls": dict(controls or {})}

    def configure(self, config: dict) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if config["main"]["format"] not in _LAYOUT:
            raise RuntimeError(f"stand-in does not know format {config['main']['format']}")
        self.config = config

    def start(self, config: dict | None = None, show_preview: bool = False) -> None:
        if config is not None:
            self.configure(config)
        if self.config is None:
            self.configure(self.create_video_configuration())
        self.started = True

    def capture_array(self, name: str = "main", wait: object = None, signal_function: object = None) -> np.ndarray:
        if not self.started:
            raise RuntimeError("camera not started")
        if self.fail_after is not None and self.frames >= self.fail_after:
            raise RuntimeError("Camera frontend has timed out!")
        self.frames += 1
        time.sleep(0.01)  # the sensor's frame time
        stream = self.config[name]
        w, h = stream["size"]
        rgb = np.zeros((h, w, 4), np.uint8)
        rgb[:, : w // 2, 0] = 255  # left: red
        rgb[:, w // 2:, 2] = 255  # right: blue
        rgb[:, :, 3] = 255
        return np.ascontiguousarray(rgb[:, :, list(_LAYOUT[stream["format"]])])

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.stop()
        self.closed = True


@pytest.fixture
def stand_in(monkeypatch):
    module = types.ModuleType("picamera2")
    module.Picamera2 = _StandInPicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    _StandInPicamera2.opened = []
    _StandInPicamera2.fail_after = None
    monkeypatch.setattr(_StandInPicamera2, "cameras", list(_StandInPicamera2.cameras))
    return _StandInPicamera2


def _real_picamera2_absent() -> bool:
    return "picamera2" not in sys.modules and importlib.util.find_spec("picamera2") is None


@pytest.mark.skipif(not _real_picamera2_absent(), reason="picamera2 is installed here: the message is not reachable")
def test_without_picamera2_the_message_says_how_to_install_it(caplog):
    with pytest.raises(SourceError) as raised:
        open_source("picamera").open()
    text = str(raised.value)
    assert "picamera2" in text and "sudo apt install python3-picamera2" in text and "--system-site-packages" in text
    with caplog.at_level(logging.WARNING, logger="simulator.camera"):
        fallback = choose_source("picamera")  # no webcam here either: the demo clip, with the reason logged
    assert fallback.description == "demo clip"
    assert any("sudo apt install python3-picamera2" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(not _real_picamera2_absent(), reason="picamera2 is installed here: the message is not reachable")
def test_the_fallback_from_the_pi_camera_is_one_message_reason_first(caplog):
    with caplog.at_level(logging.INFO, logger="simulator.camera"):
        fallback = choose_source("picamera")
    said = [r for r in caplog.records if r.name == "simulator.camera.sources"]
    assert fallback.description == "demo clip"
    assert len(said) == 1, [r.getMessage() for r in said]
    text = said[0].getMessage()
    assert said[0].levelno == logging.WARNING
    assert text.index("cannot use the Pi camera: the picamera2 module is not installed") \
        < text.index("no webcam found either: playing the bundled demo clip") \
        < text.index("hint: on Raspberry Pi OS: sudo apt install python3-picamera2")


def test_picamera2_without_libcamera_says_so(tmp_path, monkeypatch):
    """A picamera2 from pip, without the Pi's libcamera bindings: its import fails on ``import libcamera``."""
    package = tmp_path / "picamera2"
    package.mkdir()
    (package / "__init__.py").write_text("import libcamera  # as the real package does first\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    with pytest.raises(SourceError, match="libcamera") as raised:
        open_source("picamera").open()
    assert "sudo apt install python3-picamera2" in str(raised.value)


def test_installed_but_no_camera_says_so(stand_in):
    stand_in.cameras = []
    with pytest.raises(SourceError, match="no camera") as raised:
        open_source("picamera").open()
    assert "rpicam-hello --list-cameras" in str(raised.value)
    stand_in.cameras = [{"Model": "imx708", "Id": "/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a"}]
    with pytest.raises(SourceError, match="no Pi camera 1: libcamera sees 1"):
        open_source("picamera:1").open()


def test_pi_camera_frames_reach_the_slot_in_opencv_order_at_the_profile_size(stand_in, tmp_path):
    profile = load_profile("deeplens").camera
    camera = Camera(open_source("picamera"), profile, tmp_path / "frames")
    camera.start()
    try:
        frame = camera.latest.image
        assert frame.shape == (profile.height, profile.width, 3)
        left, right = frame[10, 10], frame[10, -10]
        assert tuple(left) == (0, 0, 255) and tuple(right) == (255, 0, 0)  # BGR: red left, blue right
        config = stand_in.opened[0].config
        assert config["main"]["size"] == (profile.width, profile.height)  # asked at the profile's size
        assert config["use_case"] == "video"
        assert camera.source.description == "Pi camera"
    finally:
        camera.stop()
    assert stand_in.opened[0].closed


def test_pi_camera_that_fails_mid_run_is_reopened(stand_in, tmp_path):
    stand_in.fail_after = 20
    source = open_source("picamera")
    camera = Camera(source, load_profile("host").camera, tmp_path / "frames")
    camera.retry_first, camera.retry_max = 0.1, 0.5
    camera.start()
    try:
        deadline = time.monotonic() + 30
        while camera.stats.reconnects < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        stats = camera.stats
        assert stats.reconnects >= 2 and stats.frames > 20
        assert all(c.closed for c in stand_in.opened[:-1])  # each failed camera was closed before reopening
    finally:
        camera.stop()
