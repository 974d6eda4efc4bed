"""How many CPU threads the Lambda's OpenVINO gets: the two candidates are tried on the running Lambda.

The camera works beside the inference (it decodes the next frame while the Lambda infers on this one). OpenVINO's
default puts a thread on each core, and every layer waits for all of them, so a core the camera takes holds every
layer up. With one thread fewer, a core is left to the camera: the inference alone is slower, but nothing waits.
Which is faster depends on the source and the model (a 4 MP file decoded once per inference takes a core for most
of an inference; a webcam's small frames take little), so neither is assumed: once the Lambda runs, the model is
also compiled with one thread fewer, and the two take turns in blocks of calls (in the order ABBA). What is timed
is the Lambda's loop, from one inference to the next: all it does and all it waits for. The one whose blocks ran
faster (the median block, so that a block in which the process was stopped or the machine stalled does not decide)
is kept, OpenVINO's default unless the other is ``margin`` faster, and the other is released.

Measured with ``bench/spine_interleaved.py`` on the 2-core test machine, idle, 4 MP clip, ``--every-frame``: one
thread against OpenVINO's two, object detection 0.952/0.944/0.954 against 0.923/0.930 of the plain loop's rate,
hot dog 0.964/0.980 against 0.927/0.901 (runs alternated within the same half hour).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

ORDER = (0, 1, 1, 0)  # ABBA: a drift in the machine's speed falls on both alike


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
    margin: float = 0.02  # the other candidate is kept only if its median block ran this much faster
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
            if self._block + 1 >= 2 * self.blocks:
                self.chosen = self.decide()
                return self.chosen
            self._block, self._block_start, self._block_calls = self._block + 1, now, 0
        self._last, self._last_counts = now, self._block_calls > 0
        self._block_calls += 1
        return self.candidate

    def rates(self) -> tuple[float, float]:
        """Calls per second of each candidate's median block (0.0 before it has a block)."""
        default, fewer = (statistics.median(b) if b else 0.0 for b in self.blocks_run)
        return default, fewer

    def decide(self) -> int:
        default, fewer = self.rates()
        return 1 if fewer > 0 and default > 0 and fewer * (1.0 - self.margin) > default else 0
