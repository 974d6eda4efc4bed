"""Camera sources, the shared-memory latest-frame slot, and the camera thread's format and pacing."""

from __future__ import annotations

import multiprocessing as mp
import time

import cv2
import numpy as np
import pytest

from simulator.camera.camera import Camera, fit_to_format
from simulator.camera.sources import ImagesSource, PatternSource, WebcamSource, open_source
from simulator.errors import SourceError
from simulator.ipc.frames import FrameSlot
from simulator.ipc.slot import SharedSlot
from simulator.profiles import load_profile
from tests.support.slow_decoder import SlowDecoder


def _reader(path, out):
    slot = FrameSlot.attach(path)
    frame = slot.read()
    out.put((frame.index, frame.image.shape, int(frame.image[0, 0, 0]), int(frame.image.sum() % 9973)))


def test_frame_slot_crosses_processes_without_pickling_the_frame(tmp_path):
    slot = FrameSlot.create(tmp_path / "frames", 2688, 1520)
    image = np.random.default_rng(1).integers(0, 255, (1520, 2688, 3), dtype=np.uint8)
    seq = slot.write(image)
    out = mp.get_context("spawn").Queue()
    p = mp.get_context("spawn").Process(target=_reader, args=(tmp_path / "frames", out))
    p.start()
    got = out.get(timeout=60)
    p.join(30)
    assert got == (seq, (1520, 2688, 3), int(image[0, 0, 0]), int(image.sum() % 9973))
    slot.close()
    assert not (tmp_path / "frames").exists()


def test_slot_returns_newest_value_and_copies(tmp_path):
    slot = SharedSlot.create(tmp_path / "s", 16)
    reader = SharedSlot.attach(tmp_path / "s")
    assert reader.read() is None
    slot.write(b"first", meta=(1, 2))
    slot.write(b"second", meta=(3,))
    got = reader.read()
    assert (got.seq, got.data.tobytes(), got.meta) == (2, b"second", (3, 0, 0, 0))
    slot.write(b"third")
    assert got.data.tobytes() == b"second"  # a private copy, not a view the writer overwrites
    with pytest.raises(ValueError, match="does not fit"):
        slot.write(b"x" * 17)
    reader.close()
    slot.close()


def test_fit_to_format_crops_to_the_sensor_aspect():
    image = np.zeros((720, 1280, 3), np.uint8)
    image[:, :, 2] = 255
    out = fit_to_format(image, 2688, 1520)
    assert out.shape == (1520, 2688, 3) and out[0, 0, 2] == 255
    square = fit_to_format(image, 300, 300)
    assert square.shape == (300, 300, 3)
    assert fit_to_format(image, None, None) is image


def test_fit_to_format_fills_a_given_buffer_in_one_pass():
    image = np.zeros((720, 1280, 3), np.uint8)
    image[:, :2] = (0, 0, 255)  # a red edge that the 4 MP sensor's narrower aspect crops away
    image[:, 2:] = (0, 255, 0)
    out = np.empty((1520, 2688, 3), np.uint8)
    assert fit_to_format(image, 2688, 1520, out=out) is out
    assert np.array_equal(out, fit_to_format(image, 2688, 1520))
    assert out[:, 0].tolist() == [[0, 255, 0]] * 1520  # centre-cropped, not squeezed
    same = np.full((1520, 2688, 3), 9, np.uint8)
    assert fit_to_format(same, 2688, 1520, out=out) is out and int(out.max()) == 9
    with pytest.raises(ValueError):
        fit_to_format(image, 2688, 1520, out=np.empty((10, 10, 3), np.uint8))


def test_file_frames_are_made_in_the_slot_and_latest_is_a_stable_copy(tmp_path, video_file):
    """Frames are decoded straight into the slot; what the core's viewers get from ``latest`` is their own copy,
    which the camera's later frames never change."""
    camera = Camera(open_source(str(video_file)), load_profile("host").camera, tmp_path / "frames")
    camera.start()
    try:
        reader = FrameSlot.attach(tmp_path / "frames")
        plain = cv2.VideoCapture(str(video_file))
        decoded = [plain.read()[1] for _ in range(90)]
        plain.release()
        deadline = time.monotonic() + 30
        seen = set()
        while len(seen) < 5 and time.monotonic() < deadline:
            frame = reader.read()
            if frame.index not in seen:
                seen.add(frame.index)
                # every published frame is one of the file's, whole and exact
                assert any(np.array_equal(frame.image, d) for d in decoded)
            time.sleep(0.01)
        assert len(seen) == 5
        held = camera.latest
        kept = held.image.copy()
        while camera.latest.index < held.index + 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert camera.latest.index >= held.index + 5  # the slot's four buffers were all rewritten since
        assert np.array_equal(held.image, kept)
        a, b = camera.latest, camera.latest
        assert a is b or b.index != a.index  # copied once per new frame, not per read
    finally:
        camera.stop()


def test_open_source_understands_every_kind_of_spec(tmp_path, video_file):
    assert isinstance(open_source("0"), WebcamSource)
    pattern = open_source("pattern:320x240@15")
    assert isinstance(pattern, PatternSource) and (pattern.width, pattern.height, pattern.fps) == (320, 240, 15)
    cv2.imwrite(str(tmp_path / "a.png"), np.full((40, 60, 3), 10, np.uint8))
    cv2.imwrite(str(tmp_path / "b.jpg"), np.full((80, 120, 3), 200, np.uint8))
    folder = open_source(str(tmp_path))
    folder.open()
    frames = [folder.read() for _ in range(3)]
    assert [f.shape for f in frames] == [(40, 60, 3)] * 3  # all at the first image's size, looping
    assert [int(f[0, 0, 0]) for f in frames][:2] == [10, 200]
    single = open_source(str(tmp_path / "a.png"))
    assert isinstance(single, ImagesSource)
    video = open_source(str(video_file))
    video.open()
    assert video.fps == pytest.approx(30) and video.read().shape == (360, 640, 3)
    for _ in range(95):  # past the end of the 90-frame clip: it loops
        assert video.read() is not None
    video.close()
    with pytest.raises(SourceError, match="no such file or folder"):
        open_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(SourceError, match="expected pattern, pattern:WxH or pattern:WxH@FPS"):
        open_source("pattern:bad")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="holds no images"):
        open_source(str(empty)).open()
    with pytest.raises(SourceError, match="cannot open camera webcam 9"):
        open_source("9").open()


def test_camera_delivers_the_profile_format(tmp_path, video_file):
    camera = Camera(open_source(str(video_file)), load_profile("deeplens").camera, tmp_path / "frames")
    camera.start()
    try:
        reader = FrameSlot.attach(tmp_path / "frames")
        first = reader.read()
        assert first.image.shape == (1520, 2688, 3)  # DeepLens: 4 MP BGR
        deadline = time.monotonic() + 30
        while reader.read().index == first.index and time.monotonic() < deadline:
            time.sleep(0.01)
        assert reader.read().index > first.index  # the camera keeps running
    finally:
        camera.stop()
    host = Camera(open_source(str(video_file)), load_profile("host").camera, tmp_path / "frames2")
    host.start()
    try:
        assert host.frame_size == (640, 360)  # host: the source's own size
    finally:
        host.stop()


def test_file_plays_at_its_own_rate_not_as_fast_as_it_decodes(tmp_path, video_file):
    """Behaviour, not speed: a file recorded at 30 fps is never published faster than 30 frames per second of
    the run (however fast this machine decodes), it keeps publishing, and unpaced it goes faster."""
    def frames_in(realtime: bool, seconds: float = 1.0) -> tuple[int, float]:
        camera = Camera(open_source(str(video_file)), load_profile("host").camera,
                        tmp_path / f"f{realtime}", realtime=realtime)
        start = time.monotonic()
        camera.start()
        time.sleep(seconds)  # the observation window
        camera.stop()
        return camera.stats.frames, time.monotonic() - start

    paced, elapsed = frames_in(True)
    assert 2 <= paced <= 30 * elapsed + 2  # at most the file's own rate (+ the first frame and one in flight)
    unpaced, _ = frames_in(False)
    assert unpaced > paced


def test_a_file_that_decodes_slower_than_it_plays_still_plays(tmp_path, video_file, caplog):
    """Skipping a frame costs a decode: on a machine slower than the file, catching up never ends. The camera
    plays on slower than real time instead (and says so once), rather than skipping for ever."""
    camera = Camera(SlowDecoder(video_file), load_profile("host").camera, tmp_path / "frames")
    with caplog.at_level("WARNING", logger="simulator.camera.camera"):
        camera.start()
        try:
            reader = FrameSlot.attach(tmp_path / "frames")
            seen = {reader.read().index}
            deadline = time.monotonic() + 30
            while len(seen) < 4 and time.monotonic() < deadline:
                seen.add(reader.read().index)
                time.sleep(0.02)
            assert len(seen) >= 4, f"frames published: {sorted(seen)}"
        finally:
            camera.stop()
    assert "plays slower than real time" in caplog.text
    assert camera.source.threads == 0  # behind its schedule, it asked for FFmpeg's decoder threads


def test_a_file_decoded_faster_mid_way_goes_on_from_the_same_frame(video_file):
    """A file is decoded on one thread; reopened on FFmpeg's own number of threads, it goes on with the very next
    frame (every frame in order, the same pixels as one decoder from the start)."""
    reference = cv2.VideoCapture(str(video_file))
    expected = [reference.read()[1] for _ in range(40)]
    reference.release()
    source = open_source(str(video_file))
    source.open()
    try:
        assert source.threads == 1
        got = [source.read() for _ in range(15)]
        assert source.decode_faster() and source.threads == 0
        got += [source.read() for _ in range(25)]
        assert not source.decode_faster()  # once
    finally:
        source.close()
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
