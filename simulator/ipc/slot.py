"""A latest-value slot in shared memory: one writer process, any number of reader processes.

A 4 MP frame is 12 MB; it must never be pickled between processes. The slot is a memory-mapped file (under
/dev/shm where it exists) holding four buffers. The writer fills a buffer the readers are not pointed at, then
publishes its sequence number and buffer; each buffer has a generation counter that is odd while it is being
written (a seqlock), so a reader that raced the writer notices and copies again. Neither side ever blocks the other.

Layout: a header of int64 words, then ``BUFFERS`` data buffers of ``capacity`` bytes each.
  header[0] magic, header[1] capacity, header[2] the newest value: seq * 8 + its buffer (0 = nothing yet)
  per buffer b (base ``_BUF_BASE[b]``): generation, length, seq, timestamp_ns, meta0, meta1, meta2, meta3
  header[20] values the writer passed over since its latest write (see below)
  header[21] 1 while the writer steps: it makes its next value only once a reader has read the newest
  header[22 + b] buffer b's lease: 0 clean, a process id while that process holds it, -1 handed out since written
  header[26] when a reader that copies last read (monotonic ns): a lessee copies too while such a reader is about
  reader notes r (base = 32 + 4 * r, ``READER_NOTES`` of them): last read (monotonic ns), shortest recent gap
  between its reads (ns), the sequence number it waits to see passed (0: none), the reader's tag
A buffer's generation is set absolutely (2*seq - 1 while value ``seq`` is written into it, 2*seq after), so a
writer killed half-way leaves nothing that a later write does not heal. Writers in one process take a lock.

Leases (:meth:`SharedSlot.lease`): one reader, the Lambda's ``getLastFrame``, may take the newest buffer itself
instead of a 12 MB copy - the copy was a tenth of a fast model's frame time. The buffer is the lessee's until the
array it got (and every view of it) is gone; the writer never fills a buffer a living process holds, and a buffer
handed out is not clean again (the Lambda draws on its frame) until the writer fills it anew: readers that copy
read only clean buffers, and while one reads (``header[26]``) the lessee copies as well. A lessee holds at most
``MAX_LEASES`` buffers, so the writer always has one free besides the newest. Taking a lease and starting a write
race only through the lease word and the generation, each side storing its own, a full fence, then loading the
other's (Dekker's pattern): at least one of them sees the other and steps back.

Memory ordering: x86 keeps stores in order, but aarch64 (the Raspberry Pi) may reorder them, so a reader could
see a new generation before the data it guards. Every step of the protocol is separated by :func:`fence`, a full
memory barrier. The aligned int64 header words themselves are written and read whole on both architectures.

Reader notes are advisory: a writer whose values are expensive to make (a camera converting and copying 12 MB
frames) may make only those a reader will read, judged from when each reader read last and how soon it tends to
come back (:meth:`SharedSlot.note_read`, :meth:`SharedSlot.reader_notes`). A race on them costs at most a value
made in vain or one made late, never a torn value.

Slots are context managers; ``close()`` waits for reads in progress in this process before unmapping.
Files are created with ``O_EXCL | O_NOFOLLOW`` (a planted file or symlink is refused, never overwritten).
"""

from __future__ import annotations

import mmap
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from simulator.ipc.pids import pid_alive

MAGIC = 0x4445_4550_4C45_4E53  # "DEEPLENS"
HEADER_WORDS = 64
HEADER_BYTES = HEADER_WORDS * 8
BUFFERS = 4
MAX_LEASES = 2  # a lessee's at once: the frame it works on and the one before, still referenced as it asks
_BUF_BASE = (4, 12, 48, 56)
_NEWEST = 2
_PASSED = 20
_STEPPING = 21
_LEASE = 22
_COPIED_NS = 26
_NOTES = 32
_DIRTY = -1  # a lease word: handed out since written
READER_NOTES = 4
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

_fence_locks = threading.local()


def fence() -> None:
    """A full memory barrier for this thread's loads and stores.

    Releasing and re-acquiring a lock is a release followed by an acquire: nothing before it can move after it,
    nothing after it can move before it. CPython's locks are built on POSIX semaphores or atomic
    compare-and-swap, which POSIX and the C11 memory model define as synchronising memory; on x86 the locked
    instructions are full barriers, on aarch64 they are ``stlr``/``ldar`` pairs, which are ordered. About 0.2 µs.
    """
    lock = getattr(_fence_locks, "lock", None)
    if lock is None:
        lock = _fence_locks.lock = threading.Lock()
        lock.acquire()
    lock.release()
    lock.acquire()


@dataclass(frozen=True)
class SlotRead:
    seq: int
    timestamp_ns: int
    meta: tuple[int, int, int, int]
    data: np.ndarray  # a private copy (uint8, 1-D), or the buffer itself when leased
    leased: bool = False


@dataclass(frozen=True)
class ReaderNote:
    """What one reader said of its reads (times on ``time.monotonic_ns``, shared by every process)."""

    read_ns: int  # its last read
    gap_ns: int  # the shortest gap between its recent reads: it is not expected back sooner
    waiting_seq: int  # it waits for a value newer than this one (0: it does not wait)

    def active(self, now_ns: int, idle_ns: int = 1_000_000_000) -> bool:
        """Has it read recently enough to be expected back (within 4 of its gaps, and at least ``idle_ns``)?"""
        return self.read_ns > 0 and now_ns - self.read_ns <= max(idle_ns, 4 * self.gap_ns)

    @property
    def expected_ns(self) -> int:
        """The earliest it is expected to read again."""
        return self.read_ns + self.gap_ns


class _RacedError(Exception):
    """The newest value was being written."""


class SlotClosedError(RuntimeError):
    """The slot was closed (in this process) while it was being used."""


class SharedSlot:
    """Create with ``SharedSlot.create(path, capacity)`` in the writer, ``SharedSlot.attach(path)`` in readers."""

    def __init__(self, path: Path, mm: mmap.mmap, owner: bool) -> None:
        self.path = Path(path)
        self._mm = mm
        self._owner = owner
        self._write_lock = threading.Lock()
        self._use = threading.Condition()
        self._users = 0
        self._closed = False
        self._header: np.ndarray = np.ndarray((HEADER_WORDS,), dtype=np.int64, buffer=mm, offset=0)
        self.capacity = int(self._header[1])
        self._bufs: list[np.ndarray] = [
            np.ndarray((self.capacity,), dtype=np.uint8, buffer=mm, offset=HEADER_BYTES + i * self.capacity)
            for i in range(BUFFERS)]
        self._leases: set[int] = set()  # buffers this process holds (see lease())

    @classmethod
    def create(cls, path: Path, capacity: int) -> SharedSlot:
        """A new slot file; refuses to replace anything that is already at ``path`` (file or symlink)."""
        path = Path(path)
        size = HEADER_BYTES + BUFFERS * capacity
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        try:
            os.ftruncate(fd, size)
            mm = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)
        header: np.ndarray = np.ndarray((HEADER_WORDS,), dtype=np.int64, buffer=mm)
        header[:] = 0
        header[1] = capacity
        fence()
        header[0] = MAGIC
        return cls(path, mm, owner=True)

    @classmethod
    def attach(cls, path: Path) -> SharedSlot:
        fd = os.open(path, os.O_RDWR | _NOFOLLOW)
        try:
            mm = mmap.mmap(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        fence()
        if len(mm) < HEADER_BYTES or int(np.ndarray((1,), dtype=np.int64, buffer=mm)[0]) != MAGIC:
            mm.close()
            raise ValueError(f"{path} is not a simulator shared slot")
        return cls(path, mm, owner=False)

    def __enter__(self) -> SharedSlot:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- in-process use counting: close() never unmaps under a read or write --------------------------------
    def _enter(self) -> bool:
        with self._use:
            if self._closed:
                return False
            self._users += 1
            return True

    def _leave(self) -> None:
        with self._use:
            self._users -= 1
            if self._users == 0:
                self._use.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def seq(self) -> int:
        """Sequence number of the newest value (0: none yet, or the slot is closed)."""
        if not self._enter():
            return 0
        try:
            return int(self._header[_NEWEST]) >> 3
        finally:
            self._leave()

    def write(self, data: np.ndarray | bytes, meta: tuple[int, ...] = (), timestamp_ns: int | None = None) -> int:
        """Publish ``data`` as the newest value; returns its sequence number."""
        raw = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) \
            else np.ascontiguousarray(data).reshape(-1).view(np.uint8)

        def copy(buf: np.ndarray) -> bool:
            buf[:] = raw
            return True
        seq = self.write_with(copy, raw.size, meta, timestamp_ns)
        assert seq is not None
        return seq

    def write_with(self, fill: Callable[[np.ndarray], bool], length: int, meta: tuple[int, ...] = (),
                   timestamp_ns: int | None = None) -> int | None:
        """Publish a value made in place: ``fill`` writes it into the free buffer (a uint8 view of ``length``
        bytes) and says whether it did. Returns the new sequence number, or None when ``fill`` returned False (the
        newest value stays the newest; the buffer, which readers are not pointed at, is left marked as being
        written until the next write heals it). Saves the copy of a value that is made anyway, such as a frame
        decoded or resized straight into the slot."""
        if length > self.capacity:
            raise ValueError(f"value of {length} bytes does not fit the slot's {self.capacity} bytes")
        if not self._enter():
            raise SlotClosedError(f"{self.path}: slot is closed")
        try:
            with self._write_lock:
                h = self._header
                newest = int(h[_NEWEST])
                seq = (newest >> 3) + 1
                b = self._claim(newest & 7 if newest else -1, 2 * seq - 1)
                base = _BUF_BASE[b]
                if not fill(self._bufs[b][:length]):
                    return None
                h[base + 1] = length
                h[base + 2] = seq
                h[base + 3] = timestamp_ns if timestamp_ns is not None else time.time_ns()
                m = tuple(meta) + (0,) * (4 - len(meta))
                h[base + 4: base + 8] = m[:4]
                fence()
                h[base] = 2 * seq  # even: stable
                fence()
                h[_NEWEST] = seq << 3 | b
                h[_PASSED] = 0
                return seq
        finally:
            self._leave()

    def _held(self, b: int) -> bool:
        """Does a living process hold buffer ``b``? (A lessee that died holds nothing.)"""
        pid = int(self._header[_LEASE + b])
        return pid == os.getpid() or pid_alive(pid)

    def _claim(self, newest: int, generation: int) -> int:
        """The buffer the next value goes into, marked as being written (``generation``, odd): the oldest that is
        neither the newest nor held. Against a lessee taking it at the same moment: mark, fence, look at its lease
        word; if it was taken, unmark and take another."""
        h = self._header
        while True:
            free = sorted((b for b in range(BUFFERS) if b != newest and not self._held(b)),
                          key=lambda b: int(h[_BUF_BASE[b] + 2]))
            for b in free:
                base = _BUF_BASE[b]
                before = int(h[base])
                h[base] = generation
                fence()
                if self._held(b):
                    h[base] = before
                    fence()
                    continue
                h[_LEASE + b] = 0  # clean again once written
                return b
            time.sleep(0.0005)  # a lessee is taking one this instant: it holds at most MAX_LEASES

    def read(self, retries: int = 20, lessee: bool = False) -> SlotRead | None:
        """Copy out the newest value, or None if nothing was written yet (or the slot is closed). A reader that
        copies (not ``lessee``) gets only a clean value: None while the newest is one a lessee was handed (it
        copies too from its next read on, see ``copied_recently``)."""
        if not self._enter():
            return None
        try:
            if not lessee:
                self._header[_COPIED_NS] = time.monotonic_ns()
                fence()
            return self._read(retries, clean=not lessee)
        finally:
            self._leave()

    def _newest(self) -> tuple[int, int, int, int] | None:
        """(seq, buffer, its header base, generation) of the newest value, if it is stable; None: nothing yet.
        Raises _RacedError while it is being written."""
        h = self._header
        newest = int(h[_NEWEST])
        if newest == 0:
            return None
        seq, b = newest >> 3, newest & 7
        fence()
        base = _BUF_BASE[b]
        gen = int(h[base])
        if gen != 2 * seq:
            raise _RacedError
        return seq, b, base, gen

    def _read(self, retries: int, clean: bool) -> SlotRead | None:
        h = self._header
        for _ in range(retries):
            try:
                got = self._newest()
            except _RacedError:
                time.sleep(0.0005)
                continue
            if got is None:
                return None
            seq, b, base, gen = got
            if clean and int(h[_LEASE + b]) != 0:
                return None  # handed to a lessee (who may draw on it): not the frame the camera made
            fence()
            length = min(int(h[base + 1]), self.capacity)
            data = self._bufs[b][:length].copy()
            meta = (int(h[base + 4]), int(h[base + 5]), int(h[base + 6]), int(h[base + 7]))
            ts, got_seq = int(h[base + 3]), int(h[base + 2])
            fence()
            if int(h[base]) == gen and got_seq == seq and not (clean and int(h[_LEASE + b]) != 0):
                return SlotRead(seq, ts, meta, data)
            time.sleep(0.0005)
        return None

    def copied_recently(self, within_ns: int = 1_000_000_000) -> bool:
        """Has a reader that copies read within ``within_ns``? (A lessee then copies too: the frames stay clean.)"""
        if not self._enter():
            return False
        try:
            return time.monotonic_ns() - int(self._header[_COPIED_NS]) < within_ns
        finally:
            self._leave()

    def note_copied_read(self) -> None:
        """A read in the writer's own process that may not read the slot (the camera's viewers reuse the frame they
        copied while it is the newest) counts as a reader that copies."""
        if self._enter():
            try:
                self._header[_COPIED_NS] = time.monotonic_ns()
            finally:
                self._leave()

    def lease(self, not_seq: int = 0) -> SlotRead | None:
        """The newest value as the buffer itself, the caller's until the array it gets and every view of it are
        gone (then the buffer may be written again). None when no lease can be had: nothing yet, the newest is
        ``not_seq`` or held already, this process holds ``MAX_LEASES``, or a write raced it (read a copy then)."""
        if not self._enter():
            return None
        try:
            h, pid = self._header, os.getpid()  # (not cached: a Lambda's forked child is a lessee of its own)
            if len(self._leases) >= MAX_LEASES or any(
                    int(h[_LEASE + x]) != pid and self._held(x) for x in range(BUFFERS)):
                return None  # one lessee at a time: the writer keeps a free buffer
            try:
                got = self._newest()
            except _RacedError:
                return None
            if got is None or got[0] == not_seq:
                return None
            seq, b, base, gen = got
            before = int(h[_LEASE + b])
            if before > 0:
                return None
            h[_LEASE + b] = pid
            fence()
            if int(h[base]) != gen or int(h[base + 2]) != seq:  # the writer took it first
                h[_LEASE + b] = before
                fence()
                return None
            length = min(int(h[base + 1]), self.capacity)
            offset = HEADER_BYTES + b * self.capacity
            # A memoryview as the array's base: views of the array keep the array itself alive (numpy hands views
            # of a view of an ndarray that ndarray as base), so the lease ends only with the last of them.
            data = np.frombuffer(memoryview(self._mm)[offset:offset + length], dtype=np.uint8)
            meta = (int(h[base + 4]), int(h[base + 5]), int(h[base + 6]), int(h[base + 7]))
            self._leases.add(b)
            weakref.finalize(data, self._release, b)
            return SlotRead(seq, int(h[base + 3]), meta, data, leased=True)
        finally:
            self._leave()

    def _release(self, b: int) -> None:
        self._leases.discard(b)
        with self._use:
            if self._closed:
                return
            if int(self._header[_LEASE + b]) == os.getpid():
                fence()  # what the lessee wrote into the buffer lands before the writer may fill it again
                self._header[_LEASE + b] = _DIRTY

    # -- reader notes (advisory) --------------------------------------------------------------------------
    def note_read(self, tag: int, read_ns: int, gap_ns: int, waiting_seq: int = 0) -> None:
        """A reader (``tag``: a number of its own, not 0) read at ``read_ns`` and is not expected back within
        ``gap_ns``; ``waiting_seq`` > 0: it waits for a value newer than that one. Takes over the stalest note when
        the reader has none yet."""
        if not self._enter():
            return
        try:
            h = self._header
            bases = [_NOTES + 4 * r for r in range(READER_NOTES)]
            mine = next((b for b in bases if int(h[b + 3]) == tag), None)
            if mine is None:
                mine = min(bases, key=lambda b: int(h[b]))
                h[mine + 3] = tag
            h[mine + 1] = gap_ns
            h[mine + 2] = waiting_seq
            h[mine] = read_ns
        finally:
            self._leave()

    def reader_notes(self) -> list[ReaderNote]:
        """The notes of the readers that ever read (see :meth:`ReaderNote.active`)."""
        if not self._enter():
            return []
        try:
            h = self._header
            return [ReaderNote(int(h[b]), int(h[b + 1]), int(h[b + 2]))
                    for b in (_NOTES + 4 * r for r in range(READER_NOTES)) if int(h[b]) > 0]
        finally:
            self._leave()

    def pass_value(self) -> None:
        """The writer passed over a value (made none) because no reader was expected for it."""
        if self._enter():
            try:
                self._header[_PASSED] += 1
            finally:
                self._leave()

    @property
    def passed(self) -> int:
        """Values the writer passed over since its latest write (0: the latest value is the newest it had)."""
        if not self._enter():
            return 0
        try:
            return int(self._header[_PASSED])
        finally:
            self._leave()

    @property
    def stepping(self) -> bool:
        """Does the writer make its next value only once a reader has read the newest? Then a reader that has the
        newest already can wait for the next one: it is coming."""
        if not self._enter():
            return False
        try:
            return bool(self._header[_STEPPING])
        finally:
            self._leave()

    @stepping.setter
    def stepping(self, on: bool) -> None:
        if self._enter():
            try:
                self._header[_STEPPING] = int(on)
            finally:
                self._leave()

    def close(self) -> None:
        """Unmap (after reads and writes in progress here have finished); the owner also removes the file."""
        with self._use:
            if self._closed:
                return
            self._closed = True
            while self._users:
                self._use.wait()
        self._bufs = []
        self._header = None  # type: ignore[assignment]  # views must go before the mapping can
        try:
            self._mm.close()
        except BufferError:
            pass  # a caller still holds a view; the mapping goes with the process
        if self._owner:
            self.path.unlink(missing_ok=True)
