"""Per-process singletons of a Lambda process (its stats writer, its MQTT link, ...), made once even when
several Lambda threads ask at the same moment."""

from __future__ import annotations

import functools
import threading

from simulator.device import context
from simulator.device.stats import StatsWriter


class _NullStats:
    def add(self, key: str, n: int = 1) -> None: ...
    def update(self, **fields) -> None: ...
    def flush(self) -> None: ...


def once(fn):
    """``functools.cache`` for a no-argument factory, under a lock (the cache alone may call it twice)."""
    cached = functools.cache(fn)
    lock = threading.Lock()

    @functools.wraps(fn)
    def wrapper():
        with lock:
            return cached()

    wrapper.cache_clear = cached.cache_clear
    wrapper.cache_info = cached.cache_info
    return wrapper


@once
def stats() -> StatsWriter | _NullStats:
    path = context.current().run_dir / context.STATS_FILE
    try:
        return StatsWriter(path)
    except (OSError, ValueError):
        return _NullStats()
