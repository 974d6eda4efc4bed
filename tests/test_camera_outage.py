"""A live source that goes away, stalls or comes back: the camera keeps trying, says so, and resumes.

Real parts only: a real MJPEG-over-HTTP server on 127.0.0.1 (tests/support/mjpeg_server.py), OpenCV's FFmpeg
backend reading it, the real shared-memory frame slot. Assertions are on behaviour (state text, counters, frames
flowing again); the waits are generous guards, never measurements.
"""

from __future__ import annotations

import pytest

from simulator.camera.camera import Camera
from simulator.camera.sources import open_source
from simulator.ipc.frames import FrameSlot
from simulator.profiles import load_profile
from tests.support.mjpeg_server import MjpegServer
from tests.support.waits import wait_until


@pytest.fixture
def server():
    srv = MjpegServer(fps=25).start()
    yield srv
    srv.stop()


def _camera(tmp_path, url: str, stall_timeout: float) -> Camera:
    source = open_source(url)
    source.open_timeout = 2.0
    source.stall_timeout = stall_timeout
    camera = Camera(source, load_profile("host").camera, tmp_path / "frames")
    camera.retry_first, camera.retry_max = 0.2, 1.0
    return camera


def test_http_source_that_goes_away_is_retried_until_it_comes_back(tmp_path, server):
    camera = _camera(tmp_path, server.url, stall_timeout=2.0)
    camera.start()
    try:
        reader = FrameSlot.attach(tmp_path / "frames")
        wait_until(lambda: camera.stats.frames >= 5, "first frames")
        assert camera.stats.state == "running" and camera.stats.reconnects == 0

        server.stop()  # the network camera goes away
        wait_until(lambda: camera.stats.state.startswith("reconnecting (attempt 3, last error"),
                   "three failed reconnect attempts")
        down = camera.stats
        assert down.error and "http://127.0.0.1" in down.state  # it says which source and why
        wait_until(lambda: camera.stats.fps == 0, "fps to drop to 0 while the source is down")
        index_while_down = reader.read().index

        server.start()  # same port
        wait_until(lambda: camera.stats.state == "running", "the stream to resume")
        wait_until(lambda: reader.read().index > index_while_down + 5, "new frames in the slot")
        up = camera.stats
        assert up.reconnects == 1 and up.error is None and up.fps > 0
        assert server.connections >= 2  # it really connected again
    finally:
        camera.stop()
    assert camera.stats.state == "stopped"


def test_a_stalled_stream_is_noticed_and_reopened(tmp_path, server):
    camera = _camera(tmp_path, server.url, stall_timeout=1.0)
    camera.start()
    try:
        wait_until(lambda: camera.stats.frames >= 5, "first frames")
        connections = server.connections
        server.stall()  # connected, but nothing arrives
        wait_until(lambda: camera.stats.state.startswith("reconnecting (attempt"), "the stall to be noticed")
        assert "1 s" in camera.stats.state  # the reason: no frame for 1 s
        frames = camera.stats.frames
        server.resume()
        wait_until(lambda: camera.stats.state == "running" and camera.stats.frames > frames + 5, "frames again")
        assert camera.stats.reconnects >= 1 and server.connections > connections
    finally:
        camera.stop()


def test_fps_decays_to_zero_and_stop_returns_while_a_read_blocks(tmp_path, server):
    """A read that would block for a minute: the status must not keep the old rate, and stop() must not wait."""
    camera = _camera(tmp_path, server.url, stall_timeout=60.0)
    camera.start()
    try:
        wait_until(lambda: camera.stats.fps > 0, "a measured frame rate")
        server.stall()
        wait_until(lambda: camera.stats.fps == 0, "fps to decay to 0 with no frame arriving")
        assert camera.stats.state == "running"  # not yet judged stalled (60 s): only the rate says so
    finally:
        camera.stop()
    assert not camera._thread.is_alive()  # stop() did not wait for the blocked read
    assert camera.stats.state == "stopped" and camera.stats.fps == 0


def test_a_source_that_cannot_be_read_at_start_fails_start_clearly(tmp_path, server):
    port = server.port
    server.stop()
    camera = _camera(tmp_path, f"http://127.0.0.1:{port}/stream.mjpeg", stall_timeout=1.0)
    from simulator.errors import SourceError

    with pytest.raises(SourceError, match=f"cannot open source http://127.0.0.1:{port}/stream.mjpeg"):
        camera.start()
    camera.stop()


def test_webcams_and_streams_share_the_reconnecting_live_path():
    """A USB webcam that is unplugged is a live capture that stops delivering: the same path as a stream."""
    from simulator.camera.live import LiveSource

    webcam, stream = open_source("0"), open_source("rtsp://user:secret@127.0.0.1:8554/cam")
    assert isinstance(webcam, LiveSource) and isinstance(stream, LiveSource)
    assert "secret" not in stream.description  # credentials stay out of the status
