"""A latest-value slot in shared memory: one writer process, any number of reader processes.

A 4 MP frame is 12 MB; it must never be pickled between processes. The slot is a memory-mapped file (under
/dev/shm where it exists) holding two buffers. The writer fills the buffer the readers are not pointed at, then
publishes its sequence number; each buffer has a generation counter that is odd while it is being written
(a seqlock), so a reader that raced the writer notices and copies again. Neither side ever blocks the other.

Layout: a header of int64 words, then two data buffers of ``capacity`` bytes each.
  header[0] magic, header[1] capacity, header[2] latest sequence number (0 = nothing yet)
  per buffer b (base = 4 + 8 * b): generation, length, seq, timestamp_ns, meta0, meta1, meta2, meta3
A buffer's generation is set absolutely (2*seq - 1 while value ``seq`` is written into it, 2*seq after), so a
writer killed half-way leaves nothing that a later write does not heal. Writers in one process take a lock.
"""

from __future__ import annotations

import mmap
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = 0x4445_4550_4C45_4E53  # "DEEPLENS"
HEADER_WORDS = 32
HEADER_BYTES = HEADER_WORDS * 8
_BUF_BASE = (4, 12)


@dataclass(frozen=True)
class SlotRead:
    seq: int
    timestamp_ns: int
    meta: tuple[int, int, int, int]
    data: np.ndarray  # a private copy (uint8, 1-D)


class SharedSlot:
    """Create with ``SharedSlot.create(path, capacity)`` in the writer, ``SharedSlot.attach(path)`` in readers."""

    def __init__(self, path: Path, mm: mmap.mmap, owner: bool) -> None:
        self.path = Path(path)
        self._mm = mm
        self._owner = owner
        self._write_lock = threading.Lock()
        self._header = np.ndarray((HEADER_WORDS,), dtype=np.int64, buffer=mm, offset=0)
        self.capacity = int(self._header[1])
        self._bufs = [np.ndarray((self.capacity,), dtype=np.uint8, buffer=mm, offset=HEADER_BYTES + i * self.capacity)
                      for i in range(2)]

    @classmethod
    def create(cls, path: Path, capacity: int) -> SharedSlot:
        path = Path(path)
        size = HEADER_BYTES + 2 * capacity
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, size)
            mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        header = np.ndarray((HEADER_WORDS,), dtype=np.int64, buffer=mm)
        header[:] = 0
        header[1] = capacity
        header[0] = MAGIC
        return cls(path, mm, owner=True)

    @classmethod
    def attach(cls, path: Path) -> SharedSlot:
        fd = os.open(path, os.O_RDWR)
        try:
            mm = mmap.mmap(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        if int(np.ndarray((1,), dtype=np.int64, buffer=mm)[0]) != MAGIC:
            mm.close()
            raise ValueError(f"{path} is not a simulator shared slot")
        return cls(path, mm, owner=False)

    @property
    def seq(self) -> int:
        return int(self._header[2])

    def write(self, data: np.ndarray | bytes, meta: tuple[int, ...] = (), timestamp_ns: int | None = None) -> int:
        """Publish ``data`` as the newest value; returns its sequence number."""
        raw = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) \
            else np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        if raw.size > self.capacity:
            raise ValueError(f"value of {raw.size} bytes does not fit the slot's {self.capacity} bytes")
        with self._write_lock:
            h = self._header
            seq = int(h[2]) + 1
            b = seq % 2
            base = _BUF_BASE[b]
            h[base] = 2 * seq - 1  # odd: being written
            self._bufs[b][: raw.size] = raw
            h[base + 1] = raw.size
            h[base + 2] = seq
            h[base + 3] = timestamp_ns if timestamp_ns is not None else time.time_ns()
            m = tuple(meta) + (0,) * (4 - len(meta))
            h[base + 4: base + 8] = m[:4]
            h[base] = 2 * seq  # even: stable
            h[2] = seq
            return seq

    def read(self, retries: int = 20) -> SlotRead | None:
        """Copy out the newest value, or None if nothing was written yet."""
        h = self._header
        for _ in range(retries):
            seq = int(h[2])
            if seq == 0:
                return None
            base = _BUF_BASE[seq % 2]
            gen = int(h[base])
            if gen % 2:
                time.sleep(0.0005)
                continue
            length = int(h[base + 1])
            data = self._bufs[seq % 2][:length].copy()
            meta = tuple(int(x) for x in h[base + 4: base + 8])
            ts, got_seq = int(h[base + 3]), int(h[base + 2])
            if int(h[base]) == gen and got_seq == seq:
                return SlotRead(seq, ts, meta, data)  # type: ignore[arg-type]
            time.sleep(0.0005)
        return None

    def close(self) -> None:
        self._header = None  # type: ignore[assignment]
        self._bufs = []
        try:
            self._mm.close()
        except BufferError:
            pass  # a caller still holds a view; the mapping goes with the process
        if self._owner:
            self.path.unlink(missing_ok=True)
