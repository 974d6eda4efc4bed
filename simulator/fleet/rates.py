"""The rates a watcher shows for a thing.

- ``ResultRate``: the results that arrived per second over the watcher's last few seconds (any thing, even one
  that publishes nothing but results).
- ``shared_rates(before, after)``: results **and** inferences per second over one window, the interval between two
  of the thing's info messages: the watcher counts the results that arrived between them, the device's inference
  counter (``DeviceInfo.inferences``) says how many it ran between them. A Lambda that publishes once per
  inference shows the same two numbers.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class ResultRate:
    """Results counted per whole second of arrival; ``rate(now)`` over the last ``window`` seconds."""

    window: float
    buckets: OrderedDict[int, int] = field(default_factory=OrderedDict)  # second -> results in it

    def add(self, now: float) -> None:
        second = int(now)
        self.buckets[second] = self.buckets.get(second, 0) + 1
        while self.buckets and next(iter(self.buckets)) < second - self.window - 1:
            self.buckets.popitem(last=False)

    def rate(self, now: float) -> float:
        """Per second from the whole second ``window`` seconds ago until ``now`` (the seconds counted, not more)."""
        first = math.floor(now - self.window)
        count = sum(n for second, n in self.buckets.items() if second >= first)
        return round(count / (now - first), 2) if now > first else 0.0


@dataclass(frozen=True)
class Mark:
    """Where the counts stood when one info message arrived."""

    arrived: float  # the watcher's clock
    results: int  # results the watcher had seen from the thing by then
    sent: float  # the info's own time (the device's clock)
    inferences: int  # the device's inference counter in it


@dataclass(frozen=True)
class SharedRates:
    """Results and inferences per second between two info messages, and how long that was."""

    results_per_s: float
    inferences_per_s: float
    seconds: float
    until: float  # when the later info arrived (the watcher's clock)


def shared_rates(before: Mark, after: Mark) -> SharedRates | None:
    """The rates between two marks; None when no time passed between them or a counter went back (the device or
    its Lambda started again)."""
    sent, arrived = after.sent - before.sent, after.arrived - before.arrived
    if sent <= 0 or arrived <= 0 or after.inferences < before.inferences or after.results < before.results:
        return None
    return SharedRates(results_per_s=round((after.results - before.results) / arrived, 2),
                       inferences_per_s=round((after.inferences - before.inferences) / sent, 2),
                       seconds=round(sent, 1), until=after.arrived)


def still_current(rates: SharedRates | None, now: float) -> bool:
    """The next info message is not overdue: these rates still describe the thing."""
    return rates is not None and now - rates.until <= 2 * rates.seconds + 1.0
