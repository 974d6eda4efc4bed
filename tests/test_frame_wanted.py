"""Which frames the camera makes: the decision (``simulator.ipc.frames.expected_soon``) on explicit times, and the
reader notes it is made from, through a real shared-memory slot."""

from __future__ import annotations

import numpy as np

from simulator.ipc.frames import FrameSlot, ReadClock, expected_soon
from simulator.ipc.slot import ReaderNote

MS = 1_000_000
FRAME = 33 * MS  # the camera's interval


def reader(last_ms: float, gap_ms: float, waiting: int = 0) -> ReaderNote:
    return ReaderNote(int(last_ms * MS), int(gap_ms * MS), waiting)


def test_with_no_reader_every_frame_is_made():
    assert expected_soon([], 5000 * MS, FRAME)
    assert expected_soon([reader(1000, 50)], 5000 * MS, FRAME)  # read long ago: no longer active


def test_a_reader_between_reads_gets_the_last_frame_before_it_comes_back():
    r = reader(1000, 100)  # read at 1000 ms, not back before 1100 ms
    assert not expected_soon([r], 1040 * MS, FRAME)  # the frame of 1073 ms will still come before 1100
    assert expected_soon([r], 1070 * MS, FRAME)  # the next one (1103 ms) would come after it is back


def test_a_waiting_reader_gets_the_next_frame():
    assert expected_soon([reader(1000, 100, waiting=7)], 1010 * MS, FRAME)


def test_a_late_reader_takes_the_unread_frame_unless_it_grew_old():
    late = reader(1000, 40)  # expected back at 1040 ms; it is 1060 ms now
    made_after_its_read = 1035 * MS
    assert not expected_soon([late], 1060 * MS, FRAME, made_ns=made_after_its_read)  # that one is waiting for it
    assert expected_soon([late], 1060 * MS, FRAME, made_ns=990 * MS)  # it read that one: a new frame is made
    assert expected_soon([late], 1110 * MS, FRAME, made_ns=made_after_its_read)  # two frames old: a fresh one
    assert expected_soon([late], 1060 * MS, FRAME)  # nothing made yet


def test_one_reader_that_needs_the_frame_is_enough():
    idle_between_reads, late = reader(1000, 200), reader(1000, 40)
    assert not expected_soon([idle_between_reads], 1060 * MS, FRAME, made_ns=1035 * MS)
    assert expected_soon([idle_between_reads, late], 1060 * MS, FRAME, made_ns=990 * MS)


def test_readers_leave_notes_and_the_writer_knows_when_it_made_its_newest_frame(tmp_path):
    camera = FrameSlot.create(tmp_path / "frames", 4, 2)
    lambda_side = FrameSlot.attach(tmp_path / "frames")
    try:
        assert camera.wanted(0.033)  # nobody has read yet: every frame
        camera.write(np.zeros((2, 4, 3), np.uint8))
        made = camera._made_ns
        late = ReaderNote(made - 50 * MS, 10 * MS, 0)  # read before that frame was made, expected back long ago
        assert not camera.wanted(0.033, [late], now_ns=made + 5 * MS)  # it takes the frame just made
        assert camera.wanted(0.033, [late], now_ns=made + 70 * MS)  # which is two frames old by then

        lambda_side.read()
        lambda_side.read()  # two reads: the note in the slot has its time and the gap between them
        note = camera._slot.reader_notes()[0]
        assert note.read_ns >= made and note.gap_ns > 0 and note.waiting_seq == 0
        clock = ReadClock()
        for t in (1, 41, 101):
            clock.tick(t * MS)
        assert clock.note() == ReaderNote(101 * MS, 40 * MS, 0)  # the shortest recent gap
    finally:
        lambda_side.close()
        camera.close()
