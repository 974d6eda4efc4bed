"""Leases of the shared slot's buffers (the Lambda's frame without a 12 MB copy), raced for real: a writer thread
against a lessee process that draws on what it holds and a reader that copies. The writer never fills a buffer a
living process holds, and a reader that copies never gets a buffer a lessee was handed."""

from __future__ import annotations

import gc
import multiprocessing as mp
import threading
import time

import numpy as np

from simulator.ipc.frames import FrameSlot
from simulator.ipc.slot import BUFFERS, MAX_LEASES, SharedSlot
from tests.support.waits import wait_until

SIZE = 256 * 1024
DRAWN = 255  # what a lessee writes on its buffer; the writer's values are seq % 251, never 255
SPAWN = mp.get_context("spawn")  # a lessee process as the Lambda's is: a fresh interpreter, not a fork


def _started(target, *args) -> mp.process.BaseProcess:
    child = SPAWN.Process(target=target, args=args)
    child.start()
    return child


def _value(seq: int) -> np.ndarray:
    return np.full(SIZE, seq % 251, np.uint8)


def test_a_leased_buffer_is_the_slot_itself_and_the_writer_leaves_it_alone(tmp_path):
    with SharedSlot.create(tmp_path / "s", SIZE) as slot:
        assert slot.lease() is None  # nothing yet
        slot.write(_value(1))
        got = slot.lease()
        assert got is not None and got.leased and got.seq == 1
        assert not got.data.flags.owndata and got.data.flags.writeable  # no copy, and the Lambda may draw on it
        frame = got.data.reshape(-1, 1024)
        del got
        frame[0, :8] = DRAWN
        crop = frame[:2]  # a view kept after the frame itself is gone keeps the lease
        del frame
        gc.collect()
        for seq in range(2, 30):  # the writer goes round its other buffers
            slot.write(_value(seq))
        assert int(crop[0, 0]) == DRAWN and int(crop[1, 0]) == 1  # not overwritten
        assert slot.read().seq == 29
        del crop
        gc.collect()
        for seq in range(30, 30 + BUFFERS):  # released: every buffer is written again
            slot.write(_value(seq))
        assert slot.read().seq == 29 + BUFFERS


def test_a_frame_read_again_after_a_race_is_still_the_one_the_lessee_was_handed(tmp_path):
    """``FrameSlot.reread`` (after a read that raced the camera) gives back the frame the lessee holds, which it
    may have drawn on: its next read still waits for the camera's next frame rather than take that one again."""
    camera = FrameSlot.create(tmp_path / "f", 32, 16)
    lessee = FrameSlot.attach(tmp_path / "f", lessee=True)
    try:
        camera.write(np.zeros((16, 32, 3), np.uint8))
        held = lessee.read(lease=True)
        assert held.index == 1 and not held.image.flags.owndata  # the slot's buffer itself
        assert lessee.reread().index == 1

        def next_frame_once_it_waits() -> None:
            wait_until(lambda: any(n.waiting_seq == 1 for n in camera.reader_notes()), "the lessee to wait")
            camera.write(np.ones((16, 32, 3), np.uint8))
        writer = threading.Thread(target=next_frame_once_it_waits)
        writer.start()
        got = lessee.read(seen=1, wait=5.0, lease=True)
        writer.join()
        assert got.index == 2 and int(got.image.max()) == 1
    finally:
        lessee.close()
        camera.close()


def test_a_reader_that_copies_never_gets_a_buffer_that_was_handed_out(tmp_path):
    with SharedSlot.create(tmp_path / "s", SIZE) as slot:
        slot.write(_value(1))
        got = slot.lease()
        got.data[:] = DRAWN
        assert slot.read() is None  # the newest was handed out: no clean frame for a copy
        assert slot.copied_recently()  # ... and the lessee will copy from now on
        assert slot.lease(not_seq=1) is None  # the same frame is not handed out twice
        del got
        gc.collect()
        assert slot.read() is None  # released, but still drawn on: not clean until written anew
        slot.write(_value(2))
        assert slot.read().seq == 2 and int(slot.read().data.max()) == 2


def test_a_lessee_holds_at_most_two_buffers_so_the_writer_always_has_one(tmp_path):
    with SharedSlot.create(tmp_path / "s", SIZE) as slot:
        held = []
        for seq in range(1, 4):
            slot.write(_value(seq))
            held.append(slot.lease())
        assert [h is not None for h in held] == [True] * MAX_LEASES + [False]
        for seq in range(4, 20):
            slot.write(_value(seq))  # never waits: a free buffer besides the newest and the two held
        assert [int(h.data[0]) for h in held[:MAX_LEASES]] == [1, 2]


def _lease_and_die(path: str, ready) -> None:
    slot = SharedSlot.attach(path)
    held = [slot.lease()]
    ready.set()
    time.sleep(60)  # killed, holding it
    del held


def test_the_buffer_of_a_lessee_that_died_is_written_again(tmp_path):
    path = tmp_path / "s"
    with SharedSlot.create(path, SIZE) as slot:
        slot.write(_value(1))
        ready = SPAWN.Event()
        child = _started(_lease_and_die, str(path), ready)
        assert ready.wait(30)
        slot.write(_value(2))
        assert slot.lease() is None  # another process holds one: one lessee at a time
        child.kill()
        child.join(10)
        seen = set()
        for seq in range(3, 3 + 2 * BUFFERS):
            slot.write(_value(seq))
            seen.add(int(slot._header[2]) & 7)  # the buffer each value went to
        assert seen == set(range(BUFFERS))  # including the one the dead process held
        assert slot.lease() is not None  # and leases are had again


def _lessee(path: str, seconds: float, out) -> None:
    """Lease the newest as fast as possible, check it is whole, draw on it, hold it a little, drop it."""
    bad, leased = [], 0
    with SharedSlot.attach(path) as slot:
        deadline = time.monotonic() + seconds
        last = 0
        while time.monotonic() < deadline:
            got = slot.lease(not_seq=last)
            if got is None:
                continue
            leased += 1
            last = got.seq
            data = got.data
            if int(data.min()) != got.seq % 251 or int(data.max()) != got.seq % 251:
                bad.append(f"leased value {got.seq}: bytes {int(data.min())}..{int(data.max())}")
            data[:: 4096] = DRAWN
            time.sleep(0.0005)
            if int(data[1]) != got.seq % 251:
                bad.append(f"value {got.seq} changed while it was held")
            del data, got
    out.put((leased, bad[:5]))


def test_a_writer_a_lessee_process_and_a_copying_reader_raced(tmp_path):
    path = tmp_path / "s"
    with SharedSlot.create(path, SIZE) as slot:
        slot.write(_value(1))
        out = SPAWN.Queue()
        lessee = _started(_lessee, str(path), 3.0, out)
        stop = threading.Event()
        copied, bad = [0], []

        def reader() -> None:
            while not stop.is_set():
                got = slot.read()
                if got is not None:
                    copied[0] += 1
                    lo, hi = int(got.data.min()), int(got.data.max())
                    if lo != hi or hi == DRAWN:
                        bad.append(f"copied value {got.seq}: bytes {lo}..{hi}")
                time.sleep(0.002)  # a viewer's pace: leases go on between its reads' windows

        seq = 1
        t = threading.Thread(target=reader)
        t.start()
        deadline = time.monotonic() + 60  # the lessee leases for 3 s once started; spawning it may take a while
        while lessee.is_alive() and time.monotonic() < deadline:
            seq += 1
            slot.write(_value(seq))
        stop.set()
        t.join()
        leased, lessee_bad = out.get(timeout=30)
        lessee.join(10)
        assert bad == [] and lessee_bad == []
        assert copied[0] > 10 and seq > 100 and leased > 100, (copied, seq, leased)
