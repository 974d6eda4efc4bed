"""The latest MQTT messages of a device, kept for viewers (web page, GUI inspector) in a bounded ring.

Payloads are kept whole only up to ``KEEP_BYTES``; a larger one is kept as its first bytes with its real size
and sha256, so twenty 16 MB messages cost kilobytes, not 320 MB, and ``/api/messages`` stays small.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

KEEP_BYTES = 16 * 1024


@dataclass(frozen=True)
class Message:
    seq: int
    time: float
    topic: str
    payload: bytes  # the first KEEP_BYTES of it when it was larger
    size: int = -1  # the payload's real size (-1: len(payload))
    sha256: str | None = None  # set when the payload was cut

    @property
    def truncated(self) -> bool:
        return self.sha256 is not None

    def as_dict(self) -> dict:
        text = self.payload.decode("utf-8", "replace")
        out: dict = {"seq": self.seq, "time": self.time, "topic": self.topic, "payload": text,
                     "size": self.size if self.size >= 0 else len(self.payload)}
        if self.truncated:
            out["truncated"] = True
            out["sha256"] = self.sha256
        return out


def keep(seq: int, topic: str, payload: bytes, when: float | None = None) -> Message:
    """A Message holding at most KEEP_BYTES of ``payload``."""
    payload = bytes(payload)
    when = time.time() if when is None else when
    if len(payload) <= KEEP_BYTES:
        return Message(seq, when, topic, payload)
    return Message(seq, when, topic, payload[:KEEP_BYTES], len(payload), hashlib.sha256(payload).hexdigest())


class MessageLog:
    def __init__(self, maxlen: int = 500) -> None:
        self._items: deque[Message] = deque(maxlen=maxlen)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.total = 0
        self._listeners: list[Callable[[Message], None]] = []

    def add(self, topic: str, payload: bytes) -> None:
        msg = keep(next(self._seq), topic, payload)
        with self._lock:
            self._items.append(msg)
            self.total += 1
            listeners = list(self._listeners)
        for fn in listeners:
            fn(msg)

    def listen(self, fn: Callable[[Message], None]) -> None:
        with self._lock:
            self._listeners.append(fn)

    def unlisten(self, fn: Callable[[Message], None]) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def since(self, seq: int = 0, limit: int = 100) -> list[Message]:
        """Up to ``limit`` (≥ 1) of the newest messages after ``seq``, oldest first."""
        limit = max(1, int(limit))
        with self._lock:
            items = [m for m in self._items if m.seq > seq]
        return items[-limit:]
