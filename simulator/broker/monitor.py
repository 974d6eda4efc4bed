"""The latest MQTT messages of a device, kept for viewers (web page, GUI inspector) in a bounded ring."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    seq: int
    time: float
    topic: str
    payload: bytes

    def as_dict(self) -> dict:
        text = self.payload.decode("utf-8", "replace")
        return {"seq": self.seq, "time": self.time, "topic": self.topic, "payload": text}


class MessageLog:
    def __init__(self, maxlen: int = 500) -> None:
        self._items: deque[Message] = deque(maxlen=maxlen)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.total = 0
        self._listeners: list = []

    def add(self, topic: str, payload: bytes) -> None:
        msg = Message(next(self._seq), time.time(), topic, bytes(payload))
        with self._lock:
            self._items.append(msg)
            self.total += 1
            listeners = list(self._listeners)
        for fn in listeners:
            fn(msg)

    def listen(self, fn) -> None:
        with self._lock:
            self._listeners.append(fn)

    def unlisten(self, fn) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def since(self, seq: int = 0, limit: int = 100) -> list[Message]:
        with self._lock:
            items = [m for m in self._items if m.seq > seq]
        return items[-limit:]
