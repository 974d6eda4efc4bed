"""The project stream: what a Lambda writes to ``/tmp/results.mjpeg`` reaches the simulator without a FIFO.

On the device a Lambda made a FIFO with ``os.mkfifo`` and wrote JPEGs into it; the device's viewer read them. Here,
inside the Lambda's process, ``os.mkfifo`` / ``open`` / ``os.remove`` of that one path are redirected (see
``simulator.runtime.redirects``): ``open(path, 'w' | 'wb')`` returns this writer that accepts bytes (even in text
mode, where real Python 3 raises TypeError), splits the stream into JPEGs and puts the newest into this device's
shared slot. Nothing blocks, two simulated devices never collide (each has its own slot), and systems without
``mkfifo`` work the same. Like a FIFO whose reader displays at screen rate, the writer takes at most ``MAX_FPS``
frames a second, so display threads that rewrite the same JPEG in a tight loop do not burn a core; a frame identical
to the last one is not published again.
"""

from __future__ import annotations

import io
import time

from simulator.ipc.slot import SharedSlot

MAX_FPS = 60.0
CAPACITY = 16 * 1024 * 1024
SOI, EOI = b"\xff\xd8", b"\xff\xd9"


class ProjectStreamWriter(io.RawIOBase):
    """A write-only file object that turns concatenated JPEGs into frames of the project stream."""

    def __init__(self, slot: SharedSlot) -> None:
        super().__init__()
        self._slot = slot
        self._buf = bytearray()
        self._last = 0.0
        self._last_jpeg = b""
        self.mode, self.name = "wb", "/tmp/results.mjpeg"

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if isinstance(data, str):
            data = data.encode("latin-1", errors="replace")
        data = bytes(data)
        self._buf += data
        self._drain()
        return len(data)

    def _drain(self) -> None:
        buf = self._buf
        start = buf.find(SOI)
        if start < 0:
            del buf[:]
            return
        end = buf.find(EOI + SOI, start + 2)
        newest = None
        while end >= 0:  # several complete JPEGs: keep the last
            newest = bytes(buf[start: end + 2])
            start = end + 2
            end = buf.find(EOI + SOI, start + 2)
        if buf.endswith(EOI) and len(buf) - start > 4:
            newest = bytes(buf[start:])
            start = len(buf)
        del buf[:start]
        if len(buf) > CAPACITY:  # garbage without an end marker
            del buf[:]
        if newest is not None:
            self._emit(newest)

    def _emit(self, jpeg: bytes) -> None:
        wait = self._last + 1.0 / MAX_FPS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()
        if jpeg == self._last_jpeg:  # display threads rewrite the same frame in a loop: not a new frame
            return
        self._last_jpeg = jpeg
        if len(jpeg) <= self._slot.capacity:
            self._slot.write(jpeg)

    def flush(self) -> None:
        pass
