"""``--every-frame``: a file advances one frame each time a Lambda has read the newest, so every frame of the clip
is inferred, in order, at the Lambda's pace (repeatable results on a recorded clip)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from simulator.camera.camera import Camera
from simulator.camera.capture import StreamSource
from simulator.camera.sources import open_source
from simulator.ipc.frames import FrameSlot
from simulator.ipc.slot import SharedSlot
from simulator.profiles import load_profile
from tests.support.mjpeg_server import MjpegServer
from tests.support.waits import wait_until


def square_left(image: np.ndarray) -> int:
    """The left edge of the clip's white square (row 175; it moves 5 px a frame from x = 10)."""
    row = image[175].astype(int).sum(axis=1)
    return int(np.argmax(row > 600))


def test_every_frame_of_the_file_in_order_at_the_readers_pace(tmp_path, video_file):
    camera = Camera(open_source(str(video_file)), load_profile("host").camera, tmp_path / "frames", every_frame=True)
    camera.start()
    try:
        reader = FrameSlot.attach(tmp_path / "frames")
        time.sleep(0.3)  # nobody reads: the clip waits on its first frame
        assert camera.stats.published == 1
        got, last = [], None
        for i in range(40):
            frame = reader.read(seen=last, wait=0.5)  # as getLastFrame reads
            got.append((frame.index, square_left(frame.image)))
            last = frame.index
            time.sleep(0.005 if i % 2 else 0.04)  # a reader sometimes faster than a decode, sometimes slower
        reader.close()
    finally:
        camera.stop()
    assert [index for index, _ in got] == list(range(1, 41))  # none skipped, none twice
    assert [x for _, x in got] == pytest.approx([10 + 5 * i for i in range(40)], abs=2)  # the clip's own frames
    assert camera.stats.dropped == 0 and camera.stats.skipped == 0


def test_a_reader_that_always_waits_gets_every_frame_once(tmp_path, video_file):
    """A reader back before each next frame is ready (a Lambda faster than the decode) waits for every frame: the
    frame it waited for counts as read from when it came, so the camera goes on to the next one. Held back by the
    camera's decoding like that, the file is decoded on more threads, and goes on in order across the change."""
    camera = Camera(open_source(str(video_file)), load_profile("host").camera, tmp_path / "frames", every_frame=True)
    camera.start()
    try:
        reader = FrameSlot.attach(tmp_path / "frames")
        got, last = [], None
        for _ in range(60):
            frame = reader.read(seen=last, wait=0.5)  # straight back: it always waits for the next frame
            got.append((frame.index, square_left(frame.image)))
            last = frame.index
        reader.close()
    finally:
        camera.stop()
    assert [index for index, _ in got] == list(range(1, 61))  # none twice, none passed over
    assert [x for _, x in got] == pytest.approx([(10 + 5 * i) for i in range(60)], abs=2)
    assert camera.source.threads == 0


def test_a_read_that_beats_the_cameras_own_bookkeeping_still_counts(tmp_path, video_file, monkeypatch):
    """The Lambda may read a frame the moment it is published, before the camera's write has returned. That read
    is a read of the new frame: the camera goes on to the next one without waiting for another read (it did wait,
    and a run with --every-frame lost the overlap of decoding and inference on about every other frame)."""
    reader = None
    real_write = SharedSlot.write_with

    def write_then_read(self, *args, **kwargs):
        seq = real_write(self, *args, **kwargs)
        if seq == 2 and reader is not None:
            reader.read()  # published, and read before the write returns
        return seq
    monkeypatch.setattr(SharedSlot, "write_with", write_then_read)
    camera = Camera(open_source(str(video_file)), load_profile("host").camera, tmp_path / "frames", every_frame=True)
    camera.start()
    try:
        reader = FrameSlot.attach(tmp_path / "frames")
        assert reader.read().index == 1  # the camera makes frame 2, which the hook reads as it is published
        wait_until(lambda: camera.stats.published >= 3, "frame 3, made with no further read")
        reader.close()
    finally:
        camera.stop()
    assert camera.stats.published == 3  # and not frame 4: nobody read frame 3


def test_a_live_source_plays_live_and_says_why(tmp_path, caplog):
    """A real MJPEG stream cannot wait: it plays as it comes (a GUI switching to a webcam keeps working)."""
    server = MjpegServer(fps=25).start()
    camera = Camera(StreamSource(server.url), load_profile("host").camera, tmp_path / "frames", every_frame=True)
    try:
        with caplog.at_level("WARNING", logger="simulator.camera.camera"):
            camera.start()
        wait_until(lambda: camera.stats.frames >= 10, "10 frames from the stream with no reader")
    finally:
        camera.stop()
        server.stop()
    assert "is live and cannot wait for the Lambda" in caplog.text


def test_the_lambda_gets_every_frame_of_the_clip(tmp_path, video_file, run_device):
    """A real sample Lambda on the real clip: no repeated frame, no frame passed over, none dropped."""
    device, _viewer = run_device(project="hotdog", source=str(video_file), every_frame=True)
    wait_until(lambda: device.lambda_stats().get("inferences", 0) >= 15, "15 inferences", timeout=120)
    stats, camera = device.lambda_stats(), device.camera.stats
    assert stats.get("stale_frames", 0) == 0
    assert camera.frames == camera.published and camera.dropped == 0 and camera.skipped == 0
    assert camera.published >= stats["frames_read"] >= 15  # the Lambda's counters lag by up to 0.25 s
