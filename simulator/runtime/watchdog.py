"""Notices a Lambda that has stopped making progress, as Greengrass's function timeout did on the device.

Progress is a number that grows while the Lambda works (the core passes the sum of the Lambda's counters —
frames read, inferences, publishes — and the project stream's sequence number); any change of it counts. A Lambda
is *hung* when that number has not changed for ``timeout`` seconds. Its clock starts at its first progress, or
after ``startup_grace`` seconds if it makes none (loading a model can take long), so a Lambda that never
progresses is hung after ``startup_grace + timeout`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

DEFAULT_TIMEOUT = 30.0
DEFAULT_STARTUP_GRACE = 120.0


class ProgressWatchdog:
    """One Lambda run's watchdog: ``start()`` when the process starts, ``idle()`` / ``hung()`` as often as wanted."""

    def __init__(self, progress: Callable[[], int], timeout: float = DEFAULT_TIMEOUT,
                 startup_grace: float = DEFAULT_STARTUP_GRACE, clock: Callable[[], float] = time.monotonic) -> None:
        if timeout <= 0:
            raise ValueError("a watchdog needs a timeout above 0 s (0 means no watchdog: do not create one)")
        self.progress, self.timeout, self.startup_grace = progress, timeout, startup_grace
        self._clock = clock
        self._started = self._changed = clock()
        self._value: int | None = None
        self.progressed = False  # the Lambda made progress since start()

    def start(self) -> None:
        """A new run starts now: its progress is measured from the current value."""
        self._started = self._changed = self._clock()
        self._value = self._read()
        self.progressed = False

    def _read(self) -> int | None:
        try:
            return int(self.progress())
        except Exception:  # noqa: BLE001 - an unreadable counter (e.g. the core stopping) is no progress
            return None

    def poll(self) -> None:
        """Read the progress number; a change (up, or down when the counters were cleared) restarts the clock."""
        value, now = self._read(), self._clock()
        if value is not None and value != self._value:
            if self._value is not None:
                self.progressed = True
                self._changed = now
            self._value = value

    def idle(self) -> float:
        """Seconds the clock has run: since the last progress, or since the start-up allowance ran out."""
        now = self._clock()
        since = self._changed if self.progressed else self._started + self.startup_grace
        return max(0.0, now - since)

    def age(self) -> float:
        """Seconds since the last progress (since the start while there was none)."""
        return max(0.0, self._clock() - self._changed)

    def hung(self) -> bool:
        """Poll, then whether the Lambda has made no progress for ``timeout`` seconds of its clock."""
        self.poll()
        return self.idle() >= self.timeout
