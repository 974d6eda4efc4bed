"""Image folders with bad entries: skipped, counted and reported once; only a folder with nothing readable fails."""

from __future__ import annotations

import logging
import time

import cv2
import numpy as np
import pytest

from simulator.camera.camera import Camera
from simulator.camera.sources import open_source
from simulator.errors import SourceError
from simulator.profiles import load_profile


def _image(path, value: int) -> None:
    cv2.imwrite(str(path), np.full((48, 64, 3), value, np.uint8))


@pytest.fixture
def messy_folder(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    (folder / "a.jpg").mkdir()  # a folder with an image's name, sorted first
    (folder / "b.jpg").write_bytes(b"this is not a jpeg")  # unreadable, sorted before the good ones
    _image(folder / "c.png", 60)
    (folder / "d.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    _image(folder / "e.jpg", 180)
    (folder / "notes.txt").write_text("not an image suffix: not an entry at all")
    return folder


def test_bad_entries_are_skipped_and_counted_once(messy_folder, caplog):
    source = open_source(str(messy_folder))
    with caplog.at_level(logging.WARNING, logger="simulator.camera"):
        source.open()
        frames = [source.read() for _ in range(6)]  # three loops over the two good images
    assert [int(f[0, 0, 0]) for f in frames] == [60, 180] * 3
    assert source.skipped == 3
    warned = [r.getMessage() for r in caplog.records]
    for name in ("a.jpg", "b.jpg", "d.png"):
        assert sum(name in m for m in warned) == 1, warned  # once each, however many loops
    assert any("a.jpg" in m and "folder" in m for m in warned)


def test_camera_on_a_messy_folder_never_reconnects(messy_folder, tmp_path):
    source = open_source(str(messy_folder), image_fps=50)
    camera = Camera(source, load_profile("host").camera, tmp_path / "frames")
    camera.start()
    try:
        deadline = time.monotonic() + 30
        while camera.stats.frames < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        stats = camera.stats
        assert stats.frames >= 8 and stats.reconnects == 0 and stats.state == "running"
        assert stats.skipped == 3 and stats.error is None
    finally:
        camera.stop()


def test_a_folder_with_nothing_readable_fails_naming_it(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "x.jpg").mkdir()
    (folder / "y.png").write_bytes(b"garbage")
    with pytest.raises(SourceError, match=r"none of the 2 images in .*broken can be read"):
        open_source(str(folder)).open()


def test_images_deleted_while_running_are_waited_for(tmp_path):
    """Every image gone mid-run: the source reports no frame (the camera retries) and picks up new ones."""
    folder = tmp_path / "live"
    folder.mkdir()
    _image(folder / "a.png", 10)
    source = open_source(str(folder))
    source.open()
    assert source.read() is not None
    (folder / "a.png").unlink()
    assert source.read() is None and "can be read" in source.error
    with pytest.raises(SourceError):
        source.open()
    _image(folder / "b.png", 99)
    source.open()
    assert int(source.read()[0, 0, 0]) == 99
