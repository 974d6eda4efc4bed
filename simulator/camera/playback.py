"""A file played at its own frame rate: frame ``n`` is due at ``t0 + n / fps``; behind, frames are skipped.

Shared by the camera's loop and the fleet's shared decoder.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def catch_up(t0: float, n: int, fps: float, skip: Callable[[], None]) -> tuple[float, int, int, bool]:
    """Skip frames while playback is more than a frame behind its schedule. A skip costs a decode too: when one
    costs a frame's time or more, catching up never ends, so the schedule is moved to now instead (the file then
    plays slower than real time). Returns ``(t0, n, frames skipped, whether the schedule was moved)``."""
    due, skipped = t0 + n / fps, 0
    while (lag := time.monotonic() - due) > 1.0 / fps:  # more than a frame behind: skip one
        skip()
        skipped += 1
        n += 1
        due = t0 + n / fps
        if time.monotonic() - due >= lag:  # the skip took a frame's time or more: it never catches up
            return time.monotonic() - n / fps, n, skipped, True  # so play on from here
    return t0, n, skipped, False
