"""How many CPU threads the Lambda's OpenVINO gets: the two candidates are tried on the running Lambda.

The camera works beside the inference (it decodes the next frame while the Lambda infers on this one). OpenVINO's
default puts a thread on each core, and every layer waits for all of them, so a core the camera takes holds every
layer up. With one thread fewer, a core is left to the camera: the inference alone is slower, but nothing waits.
Which is faster depends on the source and the model (a 4 MP file decoded once per inference takes a core for most
of an inference; a webcam's small frames take little), so neither is assumed: once the Lambda runs, the model is
also compiled with one thread fewer, and the two take turns in blocks of calls (in the order ABBA). What is timed
is the Lambda's loop, from one inference to the next: all it does and all it waits for. The one whose blocks ran
faster (the median block, so that a block in which the process was stopped or the machine stalled does not decide)
is kept, OpenVINO's default unless the other is ``margin`` faster, and the other is released. Blocks of a loop
vary by a few per cent, about as much as the candidates may differ, so when the two medians are too close to tell
apart (less than twice the standard error of their difference) more rounds follow, up to ``max_blocks``.

The machine's load can change after that (a browser or a build started beside the simulator), and with it the
answer. ``LoadWatch`` keeps timing the loop: when it has run more than ``drift`` away from the rate it was chosen
at, in ``windows`` windows in a row, the two are tried again. A trial that keeps the same threads doubles the wait
before the next one may start (up to ``MAX_SETTLE_S``), so a load that comes and goes does not keep them trying.
One trial runs at a time in a process: a Lambda with two models would otherwise time each model's candidates
against the other's.

Measured with ``bench/spine_interleaved.py`` on the 2-core test machine, idle, 4 MP clip, ``--every-frame``: one
thread against OpenVINO's two, object detection 0.952/0.944/0.954 against 0.923/0.930 of the plain loop's rate,
hot dog 0.964/0.980 against 0.927/0.901 (runs alternated within the same half hour).
"""

from __future__ import annotations

import math
import statistics
import threading
import weakref
from dataclasses import dataclass, field

ORDER = (0, 1, 1, 0)  # ABBA: a drift in the machine's speed falls on both alike
MAX_SETTLE_S = 600.0
PAUSE_S = 1.0  # a longer period between two calls, and five times the median one, is a pause (LoadWatch)


@dataclass
class ThreadTrial:
    """Which candidate (0: OpenVINO's default, 1: one thread fewer) runs each call, until one is chosen.

    ``next_call(now)`` is called as each inference starts (``now`` in seconds); it returns the candidate for that
    inference. Blocks last ``block_s`` and at least ``block_calls`` calls. The period from one call to the next is
    charged to the candidate that ran the first of them, except from the first call of a block (it follows a
    switch: the other candidate's threads may still be winding down)."""

    block_s: float = 0.5
    block_calls: int = 5
    blocks: int = 6  # blocks per candidate
    max_blocks: int = 16  # blocks per candidate at most, while the two are too close to tell apart
    margin: float = 0.02  # the other candidate is kept only if its median block ran this much faster
    incumbent: int = 0  # the candidate kept on a tie: OpenVINO's default, or in a trial run again the one running
    chosen: int | None = None
    blocks_run: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))  # calls/s of each block
    _periods: list[float] = field(default_factory=list)  # this block's counted periods
    _block: int = -1  # blocks started
    _block_start: float = 0.0
    _block_calls: int = 0
    _last: float | None = None
    _last_counts: bool = False

    @property
    def candidate(self) -> int:
        return ORDER[max(self._block, 0) % len(ORDER)]

    def next_call(self, now: float) -> int:
        if self.chosen is not None:
            return self.chosen
        if self._last is not None and self._last_counts:
            self._periods.append(now - self._last)
        if self._block < 0 or (now - self._block_start >= self.block_s and self._block_calls >= self.block_calls):
            if self._periods:
                self.blocks_run[self.candidate].append(len(self._periods) / max(sum(self._periods), 1e-9))
                self._periods = []
            done = self._block + 1
            if done >= 2 * self.blocks and done % 2 == 0 and (done >= 2 * self.max_blocks or self.resolved()):
                self.chosen = self.decide()
                return self.chosen
            self._block, self._block_start, self._block_calls = self._block + 1, now, 0
        self._last, self._last_counts = now, self._block_calls > 0
        self._block_calls += 1
        return self.candidate

    def fresh(self, incumbent: int) -> ThreadTrial:
        """A new trial with the same settings, ``incumbent`` kept on a tie (for a trial run again)."""
        return ThreadTrial(block_s=self.block_s, block_calls=self.block_calls, blocks=self.blocks,
                           max_blocks=self.max_blocks, margin=self.margin, incumbent=incumbent)

    def rates(self) -> tuple[float, float]:
        """Calls per second of each candidate's median block (0.0 before it has a block)."""
        default, fewer = (statistics.median(b) if b else 0.0 for b in self.blocks_run)
        return default, fewer

    def resolved(self) -> bool:
        """Whether the blocks so far decide: the two median blocks differ by more than twice the standard error of
        their difference (a median's is about 1.25 standard deviations of its blocks over the square root of their
        number), or the blocks do not vary at all."""
        a, b = self.blocks_run
        if min(len(a), len(b)) < 2:
            return True
        error = 1.2533 * math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
        return error == 0.0 or abs(statistics.median(a) - statistics.median(b)) > 2.0 * error

    def decide(self) -> int:
        rates, other = self.rates(), 1 - self.incumbent
        faster = min(rates) > 0 and rates[other] * (1.0 - self.margin) > rates[self.incumbent]
        return other if faster else self.incumbent


@dataclass
class LoadWatch:
    """After a choice, the Lambda's loop in windows of ``window_s`` (and at least ``window_calls`` calls):
    ``next_call(now)`` turns True once ``windows`` windows in a row ran more than ``drift`` away from ``rate``, the
    calls/s the kept candidate ran at in the trial. A window's rate is its calls over their time, leaving out a
    pause of more than ``PAUSE_S`` and five times the median period from one call to the next, so a process stopped
    for a while (a debugger, a suspended laptop) does not count as a slower loop. Windows start ``settle_s`` after
    ``since`` (the choice)."""

    window_s: float = 5.0
    window_calls: int = 10
    windows: int = 2
    drift: float = 0.2
    settle_s: float = 30.0
    rate: float = 0.0
    since: float = 0.0
    seen: float = 0.0  # calls/s of the last window
    _start: float | None = None
    _last: float = 0.0
    _periods: list[float] = field(default_factory=list)
    _off: int = 0  # windows in a row away from ``rate``

    def started(self, rate: float, now: float, settle_s: float | None = None) -> LoadWatch:
        """A watch with these settings from a choice made ``now`` at ``rate`` calls/s."""
        return LoadWatch(window_s=self.window_s, window_calls=self.window_calls, windows=self.windows,
                         drift=self.drift, settle_s=self.settle_s if settle_s is None else settle_s, rate=rate,
                         since=now)

    def next_call(self, now: float) -> bool:
        if self.rate <= 0 or now - self.since < self.settle_s:
            return False
        if self._start is None:
            self._start = self._last = now
            return False
        self._periods.append(now - self._last)
        self._last = now
        if now - self._start < self.window_s or len(self._periods) < self.window_calls:
            return False
        longest = max(PAUSE_S, 5.0 * statistics.median(self._periods))
        counted = [p for p in self._periods if p <= longest]
        self.seen = len(counted) / max(sum(counted), 1e-9)
        self._off = self._off + 1 if abs(self.seen / self.rate - 1.0) > self.drift else 0
        self._start, self._periods = now, []
        return self._off >= self.windows


class TrialTurn:
    """Whose trial runs in this process: one at a time. A holder whose trial has not chosen within ``stale_s``
    (its model is no longer called) loses the turn to the next model that asks."""

    def __init__(self, stale_s: float = 60.0) -> None:
        self.stale_s = stale_s
        self._lock = threading.Lock()
        self._owner: weakref.ref | None = None
        self._since = 0.0

    def take(self, owner: object, now: float) -> bool:
        with self._lock:
            held = self._owner() if self._owner is not None else None
            if held is not None and held is not owner and now - self._since < self.stale_s:
                return False
            self._owner, self._since = weakref.ref(owner), now
            return True

    def give(self, owner: object) -> None:
        with self._lock:
            if self._owner is not None and self._owner() is owner:
                self._owner = None


TURN = TrialTurn()
