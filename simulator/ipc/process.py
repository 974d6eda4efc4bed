"""Per-process singletons of a Lambda process (its stats writer, its MQTT link, ...), made once even when
several Lambda threads ask at the same moment."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from simulator.ipc import context
from simulator.ipc.stats import StatsWriter

T = TypeVar("T")


class NullStats:
    """Stands in for the stats writer when the core's stats block cannot be reached."""

    def add(self, key: str, n: int = 1) -> None: ...
    def update(self, **fields: Any) -> None: ...
    def flush(self) -> None: ...


class once(Generic[T]):  # noqa: N801 - used as a decorator, like functools.cache
    """``functools.cache`` for a no-argument factory, under a lock (the cache alone may call it twice)."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._made = False
        self._value: T | None = None
        functools.update_wrapper(self, fn)

    def __call__(self) -> T:
        with self._lock:
            if not self._made:
                self._value, self._made = self._fn(), True
            return self._value  # type: ignore[return-value]

    @property
    def made(self) -> bool:
        """True once the factory has run (and its value is kept)."""
        return self._made

    def cache_clear(self) -> None:
        with self._lock:
            self._value, self._made = None, False


@once
def stats() -> StatsWriter | NullStats:
    """This Lambda process's counters, shared with the core (latency, frames, publishes)."""
    try:
        return StatsWriter(context.current().stats_path)
    except (OSError, ValueError):
        return NullStats()
