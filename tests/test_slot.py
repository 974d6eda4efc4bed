"""The shared-memory slot's seqlock, raced for real: a writer process against readers, every value a reader
accepts must be whole (with the generation checks removed, this test sees torn values); closing under readers'
feet."""

from __future__ import annotations

import multiprocessing as mp
import threading

import numpy as np
import pytest

from simulator.ipc.slot import SharedSlot

SIZE = 256 * 1024  # big enough that a copy takes longer than a write's window


def _writer(path: str, values: int, ready, done) -> None:
    with SharedSlot.attach(path) as slot:
        ready.set()
        for seq in range(1, values + 1):
            # every byte and the meta carry the value's number: a torn read mixes two numbers
            slot.write(np.full(SIZE, seq % 251, np.uint8), meta=(seq % 251, seq))
        done.set()


def _check(read) -> tuple[int, list[str]]:
    got = read.data
    value = int(read.meta[0])
    bad = []
    if got.size != SIZE or int(got.min()) != value or int(got.max()) != value:
        bad.append(f"value {read.meta[1]}: bytes {int(got.min())}..{int(got.max())}, expected all {value}")
    if read.meta[1] % 251 != value:
        bad.append(f"value {read.meta[1]}: meta {read.meta[:2]} disagree")
    return read.seq, bad


def test_a_writer_process_racing_readers_never_hands_out_a_torn_value(tmp_path):
    path = tmp_path / "raced"
    with SharedSlot.create(path, SIZE) as owner:
        ctx = mp.get_context("spawn")
        ready, done = ctx.Event(), ctx.Event()
        writer = ctx.Process(target=_writer, args=(str(path), 4000, ready, done))
        writer.start()
        assert ready.wait(60)
        problems: list[str] = []
        accepted: list[int] = []

        def reader() -> None:
            with SharedSlot.attach(path) as slot:
                while not done.is_set():
                    read = slot.read()
                    if read is not None:
                        seq, bad = _check(read)
                        accepted.append(seq)
                        problems.extend(bad)

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        writer.join(120)
        for t in threads:
            t.join(30)
        assert writer.exitcode == 0
        assert problems == []
        assert len(set(accepted)) > 10  # the readers really raced the writer over many values
        final = owner.read()
        assert final is not None and final.seq == 4000 and _check(final)[1] == []


def test_close_waits_for_reads_in_progress_and_later_reads_get_nothing(tmp_path):
    path = tmp_path / "closing"
    writer = SharedSlot.create(path, SIZE)
    writer.write(np.full(SIZE, 7, np.uint8))
    reader = SharedSlot.attach(path)
    results: list[object] = []
    stop = threading.Event()

    def keep_reading() -> None:
        while not stop.is_set():
            results.append(reader.read())

    t = threading.Thread(target=keep_reading)
    t.start()
    while not results:
        pass
    reader.close()  # while the thread is reading: no crash, reads after it return None
    stop.set()
    t.join(10)
    assert all(r is None or int(r.data[0]) == 7 for r in results)
    assert reader.read() is None
    with writer:
        pass
    assert writer.closed


def test_a_value_made_in_place_is_published_only_when_it_was_made(tmp_path):
    path = tmp_path / "in-place"
    with SharedSlot.create(path, 16) as writer, SharedSlot.attach(path) as reader:
        writer.write(b"kept", meta=(1,))

        def half_made(buf: np.ndarray) -> bool:
            buf[:4] = np.frombuffer(b"torn", np.uint8)
            return False  # e.g. the source gave no frame after all

        def raising(buf: np.ndarray) -> bool:
            buf[:4] = np.frombuffer(b"half", np.uint8)
            raise OSError("the source went away")

        assert writer.write_with(half_made, 4) is None
        with pytest.raises(OSError, match="went away"):
            writer.write_with(raising, 4)
        got = reader.read()
        assert (got.seq, got.data.tobytes(), got.meta[0]) == (1, b"kept", 1)  # neither attempt shows

        def made(buf: np.ndarray) -> bool:
            buf[:] = np.frombuffer(b"fresh", np.uint8)
            return True
        assert writer.write_with(made, 5, meta=(2,)) == 2  # the abandoned buffer is healed by the next write
        got = reader.read()
        assert (got.seq, got.data.tobytes(), got.meta[0]) == (2, b"fresh", 2)
        with pytest.raises(ValueError, match="does not fit"):
            writer.write_with(made, 17)
