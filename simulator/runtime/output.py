"""Bounded reading of a Lambda's stdout or stderr: lines cut to a maximum length, and a maximum rate of lines.

The stream is read in chunks of at most ``CHUNK`` bytes (never an unbounded ``readline()``), so a 300 MB line
costs ``max_line_bytes`` of memory, not 300 MB: the rest of the line is counted and the line ends with
``… [N bytes cut]``. Lines beyond ``lines_per_second`` (a token bucket holding one second's worth) are counted,
not split or decoded, and a note says how many were dropped, at most once a second.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

CHUNK = 64 * 1024
MAX_LINE_BYTES = 8 * 1024
LINES_PER_SECOND = 200.0
NOTE_EVERY = 1.0


class LineLimiter:
    """Turns the chunks of one stream into the lines to show. Thread-safe: ``note()`` may come from another thread."""

    def __init__(self, name: str, max_line_bytes: int = MAX_LINE_BYTES, lines_per_second: float = LINES_PER_SECOND,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_line_bytes < 1 or lines_per_second <= 0:
            raise ValueError("max_line_bytes and lines_per_second must be positive")
        self.name, self.max_line_bytes, self.rate = name, max_line_bytes, float(lines_per_second)
        self._clock = clock
        self._lock = threading.Lock()
        self._line = bytearray()  # the line being read, at most max_line_bytes
        self._over = 0  # bytes of the current line beyond max_line_bytes
        self._tokens, self._refilled = self.rate, clock()
        self._pending_drops, self._last_note = 0, clock()
        self.lines_dropped = 0  # since the start, for the status
        self.lines_cut = 0
        self.bytes_cut = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.rate, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now

    def _take(self) -> bool:
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _append(self, data: bytes | memoryview) -> None:
        room = self.max_line_bytes - len(self._line)
        if room > 0:
            self._line += data[:room]
        self._over += max(0, len(data) - max(room, 0))

    def _finish_line(self, out: list[str]) -> None:
        line, over = bytes(self._line), self._over
        self._line, self._over = bytearray(), 0
        if not self._take():
            self._drop(1)
            return
        text = line.decode("utf-8", "replace").rstrip("\r")
        if over:
            self.lines_cut += 1
            self.bytes_cut += over
            text = f"{text}… [{over:,} bytes cut]"
        out.append(text)

    def _drop(self, n: int) -> None:
        self.lines_dropped += n
        self._pending_drops += n

    def feed(self, chunk: bytes) -> list[str]:
        """The complete lines in ``chunk`` (with what came before it) that are to be shown, notes included."""
        out: list[str] = []
        view = memoryview(chunk)
        with self._lock:
            start = 0
            while start < len(chunk):
                end = chunk.find(b"\n", start)
                if end < 0:
                    self._append(view[start:])
                    break
                self._append(view[start:end])
                start = end + 1
                self._take_note(out)
                self._finish_line(out)
                self._refill()
                if self._tokens < 1.0 and start < len(chunk):  # over the rate: count the rest, split nothing
                    last = chunk.rfind(b"\n", start)
                    if last >= 0:
                        self._drop(chunk.count(b"\n", start, last + 1))
                        self._line, self._over = bytearray(), 0
                        start = last + 1
        return out

    def finish(self) -> list[str]:
        """At the end of the stream: the last line if it had no newline, and the last note."""
        out: list[str] = []
        with self._lock:
            if self._line or self._over:
                self._finish_line(out)
            self._take_note(out, force=True)
        return out

    def _take_note(self, out: list[str], force: bool = False) -> None:
        now = self._clock()
        if self._pending_drops and (force or now - self._last_note >= NOTE_EVERY):
            out.append(f"[{self._pending_drops:,} lines dropped: more than {self.rate:g} lines/s on {self.name}]")
            self._pending_drops, self._last_note = 0, now

    def note(self) -> str | None:
        """The note on lines dropped since the last one, if one is due (for a caller that polls)."""
        out: list[str] = []
        with self._lock:
            self._take_note(out)
        return out[0] if out else None


def pump(stream: BinaryIO, limiter: LineLimiter, deliver: Callable[[str], None]) -> None:
    """Read ``stream`` (an unbuffered pipe) to its end in bounded chunks, handing each line to show to
    ``deliver``; closes the stream."""
    fd = stream.fileno()
    try:
        while True:
            try:
                chunk = os.read(fd, CHUNK)
            except InterruptedError:
                continue
            except OSError:
                break
            if not chunk:
                break
            for line in limiter.feed(chunk):
                deliver(line)
        for line in limiter.finish():
            deliver(line)
    finally:
        stream.close()
