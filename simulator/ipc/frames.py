"""Frames and the latest-frame slot that carries them from the camera to Lambda processes.

Every read says when it happened (a reader note in the slot, see ``simulator.ipc.slot``), so the camera can make
only the frames someone will read: a Lambda slower than the camera never needs every frame, and converting and
copying a 4 MP frame nobody reads is work taken from the Lambda on a small machine. ``FrameSlot.wanted`` is the
camera's side of that; a reader that finds the camera passed over frames since the newest one it has already
seen may wait for the next (``FrameSlot.read(seen=..., wait=...)``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.ipc.slot import ReaderNote, SharedSlot

STALE_WAIT = 0.25  # s: the longest a lessee back before the camera's next frame waits for it (see FrameSlot.read)


@dataclass(frozen=True)
class Frame:
    """One camera frame: BGR uint8 (H, W, 3), its capture time and its running index (from 1)."""

    image: np.ndarray
    timestamp_ns: int
    index: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.image.shape[1], self.image.shape[0]


class ReadClock:
    """When one reader reads: its last read and the shortest gap between its recent reads (monotonic ns). Safe to
    tick and read from any thread (the camera's viewers tick it; the camera and a source's reader thread read it)."""

    def __init__(self, keep: int = 8) -> None:
        self.last_ns = 0
        self._gaps: deque[int] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def tick(self, now_ns: int | None = None) -> None:
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            if self.last_ns:
                self._gaps.append(now_ns - self.last_ns)
            self.last_ns = now_ns

    @property
    def gap_ns(self) -> int:
        """0 until two reads were seen (a reader that may come back at any moment)."""
        with self._lock:
            return min(self._gaps) if self._gaps else 0

    def note(self, waiting_seq: int = 0) -> ReaderNote:
        with self._lock:
            return ReaderNote(self.last_ns, min(self._gaps) if self._gaps else 0, waiting_seq)


def expected_soon(notes: Sequence[ReaderNote], now_ns: int, interval_ns: int, made_ns: int = 0) -> bool:
    """Should the frame of ``now_ns`` be made, when the next comes ``interval_ns`` later? Yes when no reader is
    active (nobody to judge by: every frame, as a camera does), when one waits, or when one is expected back
    before the next frame (with a quarter of a frame to spare). For a reader already late: yes, unless the newest
    frame made (at ``made_ns``) is one it has not read and is less than two frames old - it takes that one."""
    def wants(n: ReaderNote) -> bool:
        if n.waiting_seq:
            return True
        if now_ns < n.expected_ns:
            return now_ns + interval_ns + interval_ns // 4 >= n.expected_ns
        return not (made_ns > n.read_ns and now_ns - made_ns < 2 * interval_ns)
    active = [n for n in notes if n.active(now_ns)]
    return not active or any(wants(n) for n in active)


class FrameSlot:
    """The newest frame in shared memory. The camera writes; any process reads without blocking."""

    def __init__(self, slot: SharedSlot, lessee: bool = False) -> None:
        self._slot = slot
        self.lessee = lessee  # the one reader that may be handed the slot's buffer itself (see read())
        self._leased_last = False  # the newest frame this reader has is a buffer it was handed (it drew on it)
        self._last_seq = 0  # the index of the newest frame this reader got
        self.path = slot.path
        self._tag = secrets.randbits(62) + 1  # this reader's note in the slot
        self._clock = ReadClock()
        self._made_ns = 0  # when this writer last made a frame (monotonic ns)

    @classmethod
    def create(cls, path: Path, width: int, height: int, channels: int = 3) -> FrameSlot:
        return cls(SharedSlot.create(path, width * height * channels))

    @classmethod
    def attach(cls, path: Path, lessee: bool = False) -> FrameSlot:
        return cls(SharedSlot.attach(path), lessee)

    @property
    def seq(self) -> int:
        return self._slot.seq

    # -- the camera's side ---------------------------------------------------------------------------------
    def write(self, image: np.ndarray, timestamp_ns: int | None = None) -> int:
        h, w = image.shape[:2]
        c = image.shape[2] if image.ndim == 3 else 1
        raw = np.ascontiguousarray(image, dtype=np.uint8).reshape(-1)

        def copy(buf: np.ndarray) -> bool:
            buf.reshape(-1)[:] = raw
            return True
        seq = self.write_with(copy, (h, w, c), timestamp_ns)
        assert seq is not None
        return seq

    def write_with(self, fill: Callable[[np.ndarray], bool], shape: tuple[int, int, int],
                   timestamp_ns: int | None = None) -> int | None:
        """Make the next frame in place: ``fill`` gets the free buffer as a (height, width, channels) uint8 array
        and says whether it filled it (see ``SharedSlot.write_with``). Returns the frame's index, or None."""
        h, w, c = shape

        def view(buf: np.ndarray) -> bool:
            if not fill(buf.reshape(shape)):
                return False
            self._made_ns = time.monotonic_ns()  # before the frame is published: every read of it comes later
            return True
        return self._slot.write_with(view, h * w * c, meta=(h, w, c), timestamp_ns=timestamp_ns)

    @property
    def made_ns(self) -> int:
        """When the newest frame made here was complete (monotonic ns; 0: none yet). A reader's note with a later
        read read that frame (or a newer one)."""
        return self._made_ns

    def wanted(self, interval_s: float, also: Sequence[ReaderNote] = (), now_ns: int | None = None) -> bool:
        """Will someone read the frame the camera has now (the next one comes ``interval_s`` later)? ``also``:
        notes of readers in the camera's own process."""
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        return expected_soon([*self._slot.reader_notes(), *also], now_ns, int(interval_s * 1e9), self._made_ns)

    def reader_notes(self) -> list[ReaderNote]:
        """What the readers in other processes said of their reads."""
        return self._slot.reader_notes()

    def step(self, on: bool = True) -> None:
        """The camera makes its next frame only once a reader has read the newest (every frame in order): a reader
        back for the next frame before it is ready waits for it."""
        self._slot.stepping = on

    def pass_frame(self) -> None:
        """The camera took a frame and made nothing of it (no reader was expected for it)."""
        self._slot.pass_value()

    # -- readers -------------------------------------------------------------------------------------------
    @property
    def passed(self) -> int:
        """Frames the camera passed over since the newest one in the slot."""
        return self._slot.passed

    def _note(self, waiting_seq: int = 0, read_ns: int | None = None) -> None:
        read_ns = self._clock.last_ns if read_ns is None else read_ns
        self._slot.note_read(self._tag, read_ns, self._clock.gap_ns, waiting_seq)

    def read(self, seen: int | None = None, wait: float = 0.0, lease: bool = False) -> Frame | None:
        """The newest frame (None: none yet, or a read that kept racing the camera): a private copy, or with
        ``lease`` (a ``lessee`` reader only) the slot's buffer itself when it can be had (``SharedSlot.lease``).

        ``seen``: the index of the newest frame this reader already has. When that is still the newest but the
        camera passed over frames since (it expected no read so soon), or it steps (its next frame waits for this
        read), wait up to ``wait`` s for the next one; when it is a buffer this reader was handed (it may have drawn
        on it: it cannot come back as the camera made it), up to ``STALE_WAIT`` s, then it comes back as it is."""
        self._clock.tick()
        if seen is not None and wait > 0 and self.seq == seen:
            waits = self.passed or self._slot.stepping
            limit = wait if waits else min(wait, STALE_WAIT) if self._leased_last else 0.0
        else:
            limit = 0.0
        if limit > 0:
            self._note(waiting_seq=seen or 0)  # the camera makes its next frame for this reader
            deadline = time.monotonic() + limit
            try:
                while self.seq == seen and time.monotonic() < deadline:
                    time.sleep(0.0005)
            finally:
                self._note(read_ns=time.monotonic_ns())  # it reads what came while it waited: a read from now
        else:
            self._note()
        return self._get(lease, seen or 0)

    def reread(self) -> Frame | None:
        """Read again at once (after a read that raced the camera): not a new read in the reader's note."""
        return self._get(False, 0)

    def _get(self, lease: bool, seen: int) -> Frame | None:
        got = self._slot.lease(not_seq=seen) if lease and self.lessee else None
        if got is None:
            got = self._slot.read(lessee=self.lessee)
        if got is None:
            return None
        if self.lessee:  # the same frame again (a reread) is still the buffer it was handed
            self._leased_last = got.leased or (got.seq == self._last_seq and self._leased_last)
        self._last_seq = got.seq
        h, w, c = got.meta[:3]
        shape = (h, w, c) if c > 1 else (h, w)
        return Frame(got.data.reshape(shape), got.timestamp_ns, got.seq)

    def copied_recently(self) -> bool:
        """Did a reader that copies (a viewer, a recorder) read in the last second? A lessee copies too then."""
        return self._slot.copied_recently()

    def note_copied_read(self) -> None:
        """A reader in the camera's own process read: the lessee copies its frames while such readers are about."""
        self._slot.note_copied_read()

    def close(self) -> None:
        self._slot.close()

    def __enter__(self) -> FrameSlot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
