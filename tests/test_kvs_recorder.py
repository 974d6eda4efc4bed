"""The Kinesis Video recorder on its own: H.264 segments from a real frame slot, dropped frames counted, a new
segment when the frame size changes, retention, the catalog the viewers read, the cloud sink's failures."""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import pytest

from simulator.ipc.frames import FrameSlot
from simulator.kvs import catalog, layout
from simulator.kvs.cloud import Credentials, LocalCloudSink, cloud_target
from simulator.kvs.encoder import EncoderUnavailableError, SegmentWriter, even_size, require_av, to_encoder_size
from simulator.kvs.recorder import Recorder, RecorderSettings
from tests.lambdas.kvs.support import probe


def test_sizes_are_capped_and_even():
    assert even_size(2688, 1520, 1280) == (1280, 724)  # the DeepLens camera
    assert even_size(1920, 1080, 1280) == (1280, 720)
    assert even_size(101, 51, 1280) == (100, 50)
    assert even_size(1080, 1920, 1280) == (720, 1280)  # portrait: the longer side is capped
    grey = np.full((51, 101), 128, np.uint8)
    assert to_encoder_size(grey, (100, 50)).shape == (50, 100, 3)


def test_a_segment_keeps_the_frames_own_timestamps(tmp_path):
    path = tmp_path / "clip.mp4"
    writer = SegmentWriter(path, 320, 240, fps=15)
    start = 1_700_000_000_000_000_000
    offsets_ms = [0, 66, 150, 150, 400, 466]  # a repeated timestamp is nudged 1 ms on
    for i, ms in enumerate(offsets_ms):
        writer.write(np.full((240, 320, 3), 20 * i, np.uint8), start + ms * 1_000_000)
    writer.close()
    writer.close()  # twice is fine
    got = probe(path)
    assert (got.codec, got.width, got.height, got.frames) == ("h264", 320, 240, 6)
    assert got.seconds == pytest.approx([0, 0.066, 0.150, 0.151, 0.400, 0.466], abs=1e-4)
    with pytest.raises(ValueError, match="even frame size"):
        SegmentWriter(tmp_path / "odd.mp4", 321, 240, fps=15)
    assert layout.fragments(path) >= 1 and layout.fragments(tmp_path / "nothing.mp4") is None


class NoiseCamera:
    """1920x1080 frames of noise at 30 fps: the hardest content for an encoder."""

    def __init__(self, path) -> None:
        self.slot = FrameSlot.create(path, 1920, 1080)
        self._images = [np.random.default_rng(i).integers(0, 256, (1080, 1920, 3), np.uint8) for i in range(4)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            self.slot.write(self._images[n % 4])
            n += 1
            self._stop.wait(1 / 30)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.slot.close()


class SlowUpload:
    """A segment sink (the cloud uploader's place) that takes as long as the test says: while it holds the
    encoder thread, the sampler keeps offering frames and the bounded queue must drop them."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.done: list = []

    def segment_done(self, path) -> None:
        self.entered.set()
        self.release.wait(60)
        self.done.append(path)

    def segment_expired(self, path) -> None:
        pass

    def status(self) -> layout.SinkStatus:
        return layout.SinkStatus(target="local", uploaded=len(self.done))


def test_frames_the_encoder_cannot_take_are_dropped_and_counted(tmp_path):
    camera = NoiseCamera(tmp_path / "frames")
    upload = SlowUpload()
    recorder = Recorder("busy", tmp_path / "frames", tmp_path / "busy",
                        RecorderSettings(max_fps=60, max_side=4096, queue_frames=1, segment_seconds=1), sink=upload)
    try:
        recorder.start()
        assert upload.entered.wait(60), "the first segment never finished"
        # the encoder thread is held: every frame the sampler takes now beyond the one queued is dropped
        deadline = time.monotonic() + 30
        while recorder.stats().dropped < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        upload.release.set()
        recorder.stop()
        statuses = layout.read_statuses(tmp_path / "busy")
    finally:
        upload.release.set()
        recorder.close()
        camera.stop()
    stats = recorder.stats()
    assert stats.dropped >= 5
    files = layout.segment_files(tmp_path / "busy")
    assert sum(probe(p).frames for p in files) == stats.frames > 0
    status = statuses[0]
    assert (status.frames, status.dropped, status.recording) == (stats.frames, stats.dropped, False)


def _status_files(folder) -> list[str]:
    return sorted(p.name for p in folder.glob(f"{layout.STATUS_PREFIX}*"))


def test_a_closed_recorder_leaves_its_segments_and_no_status_file(tmp_path):
    slot = FrameSlot.create(tmp_path / "frames", 320, 240)
    folder = tmp_path / "done"
    recorder = Recorder("done", tmp_path / "frames", folder, RecorderSettings(segment_seconds=1))
    stop = threading.Event()

    def camera() -> None:
        n = 0
        while not stop.is_set():
            slot.write(np.full((240, 320, 3), n % 250, np.uint8))
            n += 1
            stop.wait(1 / 30)

    feeder = threading.Thread(target=camera, daemon=True)
    feeder.start()
    try:
        for run in range(2):  # closed, then started again: the status comes back while it records
            recorder.start()
            deadline = time.monotonic() + 30
            while len(layout.segment_files(folder)) < 2 * (run + 1) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _status_files(folder) == [f"{layout.STATUS_PREFIX}{os.getpid()}.json"]
            recorder.stop()  # a stop is not the end: the status stays, for the viewers, with the counts
            assert [s.recording for s in layout.read_statuses(folder)] == [False]
            recorder.close()
            assert _status_files(folder) == []
            recorder.refresh_status()  # an upload finishing after the close does not bring it back
            assert _status_files(folder) == []
    finally:
        stop.set()
        feeder.join(5)
        recorder.close()
        slot.close()
    segments = layout.segment_files(folder)
    assert len(segments) >= 4 and all(probe(p).frames > 0 for p in segments)
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # nothing hidden left either


def test_a_new_frame_size_starts_a_new_segment(tmp_path):
    slot = FrameSlot.create(tmp_path / "frames", 640, 360)
    recorder = Recorder("sizes", tmp_path / "frames", tmp_path / "sizes", RecorderSettings(segment_seconds=30))
    recorder.start()
    try:
        for size, count in (((640, 360), 12), ((320, 240), 12)):
            for i in range(count):
                slot.write(np.full((size[1], size[0], 3), 10 * i, np.uint8))
                time.sleep(1 / 15 + 0.01)
        recorder.stop()
    finally:
        recorder.close()
        slot.close()
    probes = [probe(p) for p in layout.segment_files(tmp_path / "sizes")]
    assert [(p.width, p.height) for p in probes] == [(640, 360), (320, 240)]
    assert all(p.frames > 0 for p in probes)


def test_retention_deletes_finished_segments_older_than_it(tmp_path):
    folder = tmp_path / "kinesis-video" / "kept"
    folder.mkdir(parents=True)
    now = time.time()
    ages = {"20200101T000000.000Z.mp4": 3 * 3600, "20200101T010000.000Z.mp4": 3600,
            "20200101T020000.000Z.mp4": 600, "20200101T030000.000Z.mp4": 60}
    for name, age in ages.items():
        (folder / name).write_bytes(b"x")
        os.utime(folder / name, (now - age, now - age))
    (folder / "notes.txt").write_bytes(b"not a segment")
    assert [p.name for p in layout.expired(folder, 2, now)] == ["20200101T000000.000Z.mp4"]
    # 0 hours: Kinesis Video keeps no data, only its 5-minute buffer
    assert [p.name for p in layout.expired(folder, 0, now)] == list(ages)[:3]
    # a segment a live process is writing is never expired
    layout.write_status(folder, layout.RecorderStatus(
        stream="kept", pid=os.getpid(), recording=True, current="20200101T000000.000Z.mp4", max_fps=15,
        segment_seconds=10, retention_hours=0, updated=now))
    assert [p.name for p in layout.expired(folder, 0, now)] == list(ages)[1:3]


def test_header_only_segments_of_a_killed_process_are_removed_at_start(tmp_path):
    slot = FrameSlot.create(tmp_path / "frames", 64, 48)
    folder = tmp_path / "stream"
    folder.mkdir()
    header_only = folder / "20200101T000000.000Z.mp4"
    writer = SegmentWriter(header_only, 64, 48, fps=15)
    writer.write(np.zeros((48, 64, 3), np.uint8), 0)
    writer.close()
    data = header_only.read_bytes()
    header_only.write_bytes(data[:data.index(b"moof") - 4])  # what a process killed before its first fragment leaves
    foreign = folder / "20200101T000001.000Z.mp4"
    foreign.write_bytes(b"not an mp4")  # not ours to judge: left alone
    assert layout.fragments(header_only) == 0 and layout.fragments(foreign) is None
    recorder = Recorder("stream", tmp_path / "frames", folder)
    recorder.start()
    recorder.close()
    slot.close()
    assert not header_only.exists() and foreign.exists()


def test_the_catalog_lists_streams_and_the_latest_playable_segment(tmp_path):
    artifacts = tmp_path
    folder = layout.stream_folder(artifacts, "cam")
    folder.mkdir(parents=True)
    names = ["20260101T000000.000Z.mp4", "20260101T000010.000Z.mp4", "20260101T000020.000Z.mp4"]
    for name in names[:2]:
        w = SegmentWriter(folder / name, 64, 48, fps=15)
        for i in range(20):
            w.write(np.full((48, 64, 3), i * 10, np.uint8), i * 66_000_000)
        w.close()
    (folder / names[2]).write_bytes(b"")  # just opened by a live recorder
    layout.write_status(folder, layout.RecorderStatus(
        stream="cam", pid=os.getpid(), recording=True, current=names[2], width=64, height=48, max_fps=15,
        segment_seconds=10, retention_hours=2, frames=40, updated=time.time()))
    (layout.streams_root(artifacts) / "not a stream").mkdir()
    (info,) = catalog.streams(artifacts)
    assert (info.name, info.segments, info.recording, info.latest, info.frames) == ("cam", 3, True, names[1], 40)
    assert info.first_start is not None and info.first_start.isoformat() == "2026-01-01T00:00:00+00:00"
    assert [s.recording for s in catalog.segments(artifacts, "cam")] == [False, False, True]
    assert catalog.latest_segment(artifacts, "cam") == folder / names[1]
    assert catalog.latest_segment(artifacts, "nothing") is None
    assert catalog.latest_segment(artifacts, "../cam") is None
    assert catalog.segment_path(artifacts, "cam", names[0]) == folder / names[0]
    for stream, name in (("cam", "../../etc/passwd"), ("..", names[0]), ("cam", ".recorder-1.json"),
                         ("cam", "20990101T000000.000Z.mp4")):
        assert catalog.segment_path(artifacts, stream, name) is None


def test_without_pyav_recording_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # what a missing package looks like to import
    with pytest.raises(EncoderUnavailableError, match=r"pip install av==18\.1\.0"):
        require_av()
    slot = FrameSlot.create(tmp_path / "frames", 64, 48)
    recorder = Recorder("x", tmp_path / "frames", tmp_path / "x")
    with pytest.raises(EncoderUnavailableError, match="needs PyAV for H.264 encoding"):
        recorder.start()
    assert not recorder.active
    slot.close()


def test_the_cloud_sink_counts_what_the_cloud_refuses_and_goes_on(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once closed
    assert cloud_target({"DEEPLENS_SIM_CLOUD": "local", "AWS_ENDPOINT_URL": closed}) == "local"
    assert cloud_target({"DEEPLENS_SIM_CLOUD": "local"}) == "aws"
    assert cloud_target({}) == "aws"
    segment = tmp_path / "20260101T000000.000Z.mp4"
    segment.write_bytes(b"video")
    sink = LocalCloudSink("s", tmp_path, 2, Credentials("k", "s", None, "us-east-1"), closed)
    changes: list[int] = []
    sink.on_change = lambda: changes.append(sink.status().errors)
    sink.segment_done(segment)
    deadline = time.monotonic() + 60
    while sink.status().errors == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    sink.close()
    status = sink.status()
    assert (status.target, status.uploaded, status.errors) == ("local", 0, 1)
    assert "put 20260101T000000.000Z.mp4" in (status.last_error or "") and changes[-1] == 1
    assert segment.exists()  # kept locally
