"""A live source decodes only the frames someone will read: the others are taken off the device and dropped.

Real parts: a real MJPEG-over-HTTP camera on 127.0.0.1 (tests/support/mjpeg_server.py), OpenCV's FFmpeg backend
reading it, the real shared-memory frame slot read the way awscam.getLastFrame reads it. The only addition is a
count of the device's grab() and retrieve() calls around the real VideoCapture.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from simulator.camera.base import PASSED
from simulator.camera.camera import Camera
from simulator.camera.capture import StreamSource
from simulator.camera.live import _Reader
from simulator.ipc.frames import FrameSlot
from simulator.profiles import load_profile
from tests.support.mjpeg_server import MjpegServer
from tests.support.waits import wait_until


class CountingStream(StreamSource):
    """The real stream source; the frames its device takes (grabs) and decodes (retrieves) are counted."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.grabs = self.retrieves = 0

    def _connect(self):
        device = super()._connect()
        grab, retrieve, read = device.grab, device.retrieve, device.read

        def counted_grab() -> bool:
            self.grabs += 1
            return grab()

        def counted_retrieve():
            self.retrieves += 1
            return retrieve()

        def counted_read():  # before the camera's loop offers its predicate: taken and decoded
            self.grabs += 1
            self.retrieves += 1
            return read()
        device.grab, device.retrieve, device.read = counted_grab, counted_retrieve, counted_read  # type: ignore
        return device


@pytest.fixture
def server():
    srv = MjpegServer(fps=25).start()
    yield srv
    srv.stop()


def _camera(tmp_path, source: StreamSource) -> Camera:
    source.open_timeout, source.stall_timeout = 5.0, 5.0
    return Camera(source, load_profile("host").camera, tmp_path / "frames")


def test_a_slow_reader_gets_fresh_frames_and_the_rest_are_never_decoded(tmp_path, server):
    source = CountingStream(server.url)
    camera = _camera(tmp_path, source)
    camera.start()
    try:
        reader = FrameSlot.attach(tmp_path / "frames")
        wait_until(lambda: camera.stats.frames >= 5, "first frames")
        seen, got, stale = None, [], 0
        for _ in range(12):  # a Lambda that needs 0.2 s per frame, reading as getLastFrame does
            frame = reader.read(seen=seen, wait=1.0)
            assert frame is not None and frame.image.shape == (240, 320, 3)
            stale += frame.index == seen
            seen = frame.index
            got.append(frame.index)
            time.sleep(0.2)
        grabs, retrieves, stats = source.grabs, source.retrieves, camera.stats
    finally:
        camera.stop()
    assert stale == 0, f"the reader was given a frame it already had {stale} times"
    assert got == sorted(got) and len(set(got)) == len(got)
    # about five frames a second are read of the 25 the camera takes: most are taken and never decoded
    assert grabs >= 25, f"only {grabs} frames were taken off the stream"
    assert retrieves <= grabs * 0.6, f"{retrieves} of {grabs} frames were decoded for a reader at 5 frames/s"
    assert stats.published <= retrieves  # every published frame was decoded once, none twice
    assert stats.frames >= stats.published + (grabs - retrieves) * 0.9  # the passed frames still count as taken


def test_with_no_reader_every_frame_is_decoded_as_a_camera_does(tmp_path, server):
    source = CountingStream(server.url)
    camera = _camera(tmp_path, source)
    camera.start()
    try:
        wait_until(lambda: source.grabs >= 30, "frames from the stream")
        grabs, retrieves, stats = source.grabs, source.retrieves, camera.stats
    finally:
        camera.stop()
    assert retrieves >= grabs - 2  # (the one being taken as the counters were read)
    assert stats.published >= stats.frames - 2


def test_a_device_without_grab_or_a_failing_predicate_decodes_every_frame():
    class ReadOnly:
        reads = 0

        def read(self):
            ReadOnly.reads += 1
            return np.zeros((2, 2, 3), np.uint8)

        def close(self) -> None:
            pass

    class Grabbing(ReadOnly):
        retrieves = 0

        def grab(self) -> bool:
            return True

        def retrieve(self):
            Grabbing.retrieves += 1
            return np.ones((2, 2, 3), np.uint8)

    def broken() -> bool:
        raise RuntimeError("slot closed")

    def no_device():
        raise OSError("no device here: only _next is exercised")

    reader = _Reader(no_device, "test-reader", "lost", want=lambda: False)
    try:
        assert reader._next(ReadOnly()) is not PASSED  # no grab(): read() as before
        assert reader._next(Grabbing()) is PASSED  # grab() and nobody wants it: not decoded
        reader.want = broken
        assert reader._next(Grabbing()).sum() == 12  # the predicate failed: decoded, the camera goes on
        reader.want = None
        assert reader._next(Grabbing()) is not PASSED
    finally:
        reader.stop(wait=1.0)
