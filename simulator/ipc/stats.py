"""Counters a Lambda process shares with the core (latency, frames, publishes), as JSON in a shared slot."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from simulator.ipc.slot import SharedSlot

CAPACITY = 64 * 1024


class StatsWriter:
    """Lambda side. ``update(**fields)`` / ``add(counter)``; flushed to the slot at most every ``interval`` s."""

    def __init__(self, path: Path, interval: float = 0.25) -> None:
        self._slot = SharedSlot.attach(path)
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._interval = interval
        self._last = 0.0

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._data[key] = self._data.get(key, 0) + n
        self._maybe_flush()

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._data.update(fields)
        self._maybe_flush()

    def _maybe_flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        with self._lock:
            payload = json.dumps(self._data, default=str).encode()
        if len(payload) <= CAPACITY:
            self._slot.write(payload)

    def flush(self) -> None:
        self._maybe_flush(force=True)


class StatsReader:
    """Core side."""

    def __init__(self, slot: SharedSlot) -> None:
        self._slot = slot

    @classmethod
    def create(cls, path: Path) -> StatsReader:
        return cls(SharedSlot.create(path, CAPACITY))

    def read(self) -> dict[str, Any]:
        got = self._slot.read()
        if got is None:
            return {}
        try:
            return json.loads(got.data.tobytes())
        except ValueError:
            return {}

    def clear(self) -> None:
        self._slot.write(b"{}")

    def close(self) -> None:
        self._slot.close()

    def __enter__(self) -> StatsReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
