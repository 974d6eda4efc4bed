"""A ``SimulatedDevice`` whose camera plays a given ``Source`` (a fleet's shared decoder) instead of one it builds
from ``config.source``.

``new_device(config, source)`` passes the source to ``SimulatedDevice(config, source=...)`` when the core takes
one; otherwise it hands the source to the core at the one place the core builds its source, for the duration
of ``start()`` (devices of a fleet start one after another, under a lock).
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator

from simulator import core
from simulator.camera.base import Source
from simulator.config import RunConfig
from simulator.core import SimulatedDevice

_LOCK = threading.Lock()


@contextlib.contextmanager
def _given_source(source: Source) -> Iterator[None]:
    with _LOCK:
        original = core.choose_source
        core.choose_source = lambda _spec: source
        try:
            yield
        finally:
            core.choose_source = original


class _SourcedDevice(SimulatedDevice):
    def __init__(self, config: RunConfig, source: Source) -> None:
        super().__init__(config)
        self._given = source

    def start(self) -> SimulatedDevice:
        with _given_source(self._given):
            return super().start()


def new_device(config: RunConfig, source: Source) -> SimulatedDevice:
    """A (not yet started) device of ``config`` whose camera reads ``source``."""
    if "source" in inspect.signature(SimulatedDevice).parameters:
        return SimulatedDevice(config, source=source)  # type: ignore[call-arg]
    return _SourcedDevice(config, source)
