"""Per-process singletons of a Lambda process: its stats writer."""

from __future__ import annotations

import functools

from simulator.device import context
from simulator.device.stats import StatsWriter


class _NullStats:
    def add(self, key: str, n: int = 1) -> None: ...
    def update(self, **fields) -> None: ...
    def flush(self) -> None: ...


@functools.cache
def stats() -> StatsWriter | _NullStats:
    path = context.current().run_dir / context.STATS_FILE
    try:
        return StatsWriter(path)
    except (OSError, ValueError):
        return _NullStats()
