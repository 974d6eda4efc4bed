"""The shared decoder: a real video file decoded once for several readers, each getting each frame at most once."""

from __future__ import annotations

import threading
import time

import pytest

from simulator.camera.sources import open_source
from simulator.errors import SourceError
from simulator.fleet.shared_source import FrameFanOut, SharedSources, source_key
from tests.support.slow_decoder import SlowDecoder


def test_one_decoder_feeds_three_readers_each_frame_at_most_once(video_file):
    fan = FrameFanOut(open_source(str(video_file)))
    clients = [fan.client() for _ in range(3)]
    for c in clients:
        c.open()
    assert fan.fps == pytest.approx(30, abs=1) and all(c.fps == fan.fps and c.live for c in clients)
    seen: dict[int, list[int]] = {i: [] for i in range(3)}
    stop = threading.Event()

    def reader(i: int) -> None:
        while not stop.is_set():
            frame = clients[i].read()
            if frame is not None:
                seen[i].append(clients[i].last_seq)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while fan.decoded < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for c in clients:
        c.close()  # wakes a reader that waits for the next frame
    for t in threads:
        t.join(5)
        assert not t.is_alive()
    assert fan.opens == 1 and fan.decoded >= 20
    for i in range(3):
        assert seen[i] == sorted(set(seen[i])), "a reader got a frame twice or out of order"
        assert clients[i].delivered <= fan.decoded
    # decoded once, delivered three times over (each reader keeps up with 30 fps)
    assert fan.delivered == sum(c.delivered for c in clients) >= 2 * fan.decoded
    assert fan.clients == 0


def test_read_waits_for_a_newer_frame_and_frames_are_read_only(video_file):
    fan = FrameFanOut(open_source(str(video_file)))
    client = fan.client()
    client.open()
    try:
        first = client.read()
        seq = client.last_seq
        second = client.read()  # the file plays at 30 fps: this one waits for the next frame
        assert first is not None and second is not None and second is not first
        assert client.last_seq > seq and client.delivered == 2
        with pytest.raises(ValueError):
            second[0, 0, 0] = 1  # shared by every device: nobody may draw on it
    finally:
        client.close()


def test_close_and_interrupt_end_a_waiting_read(tmp_path):
    fan = FrameFanOut(open_source("pattern:64x48@0.5"), stall_timeout=30)  # a frame every 2 s
    a, b = fan.client(), fan.client()
    a.open()
    b.open()
    assert a.read() is not None and b.read() is not None
    results: dict[str, object] = {}

    def wait(name, client) -> None:
        t0 = time.monotonic()
        results[name] = (client.read(), time.monotonic() - t0)

    ta, tb = threading.Thread(target=wait, args=("a", a)), threading.Thread(target=wait, args=("b", b))
    ta.start()
    tb.start()
    time.sleep(0.3)
    a.interrupt()
    b.close()
    ta.join(5)
    tb.join(5)
    assert results["a"][0] is None and results["b"][0] is None
    assert results["a"][1] < 1.9 and results["b"][1] < 1.9  # not one frame period later
    assert a.error == "closed"
    a.open()  # a camera reopens its source after an outage
    assert a.read() is not None
    a.close()
    assert fan.clients == 0 and fan._thread is None


def test_a_source_that_cannot_be_read_is_a_source_error(tmp_path):
    bad = tmp_path / "not-a-video.mp4"
    bad.write_text("hello")
    fan = FrameFanOut(open_source(str(bad)))
    with pytest.raises(SourceError, match="not-a-video.mp4"):
        fan.client().open()
    assert fan.clients == 0


def test_pool_shares_one_decoder_per_file(video_file):
    pool = SharedSources()
    a, b = pool.get(str(video_file)), pool.get(str(video_file.parent / ".." / video_file.parent.name / "clip.mp4"))
    c = pool.get("pattern:64x48@5")
    assert a.fan is b.fan and c.fan is not a.fan and len(pool.fanouts) == 2
    assert source_key(str(video_file)) == str(video_file.resolve()) and source_key(None) == "<default>"
    a.open()
    b.open()
    pool.close()
    assert a.read() is None and b.read() is None and a.fan.clients == 0


def test_a_file_that_decodes_slower_than_it_plays_still_feeds_its_readers(video_file, caplog):
    """As the camera's own loop: the shared decoder plays on slower than real time instead of skipping for ever."""
    fan = FrameFanOut(SlowDecoder(video_file))
    client = fan.client()
    with caplog.at_level("WARNING", logger="simulator.fleet.shared_source"):
        client.open()
        try:
            frames = [client.read() for _ in range(4)]  # each waits for a newer frame (up to the stall timeout)
        finally:
            client.close()
    assert all(f is not None for f in frames) and fan.decoded >= 4
    assert "plays slower than real time" in caplog.text
    assert fan.source.threads == 0  # behind its schedule, it asked for FFmpeg's decoder threads
