"""What the simulator is busy with, for people: "fetching model ssd-mobilenet-v2-coco (34 %)", "converting
model …", "starting the Lambda". Any code reports with ``report(stage, detail, percent)``; status displays (the
web page, the window, the terminal) listen. Reports come from whatever thread does the work.

A report is said once: code that would otherwise print it itself (a ``models fetch`` with no display listening)
prints it only when ``report`` says that no listener showed it to the user.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

Listener = Callable[[str, str, "float | None"], None]  # (stage, detail, percent or None)


@dataclass(frozen=True, eq=False)  # each listen() is its own, even of the same function
class _Listening:
    fn: Listener
    tells_user: bool


_listeners: list[_Listening] = []
_lock = threading.Lock()


def listen(fn: Listener, *, tells_user: bool = True) -> Callable[[], None]:
    """Call ``fn`` on every report; returns a function that stops it.

    ``tells_user``: ``fn`` shows each report to the person running the simulator (a terminal line, a status bar, a
    start-up overlay). A listener that only records reports passes False, so that they are still printed."""
    entry = _Listening(fn, tells_user)
    with _lock:
        _listeners.append(entry)

    def stop() -> None:
        with _lock:
            if entry in _listeners:
                _listeners.remove(entry)

    return stop


def report(stage: str, detail: str = "", percent: float | None = None) -> bool:
    """Tell every listener. True when one of them shows it to the user (the caller need not print it)."""
    with _lock:
        listeners = list(_listeners)
    for entry in listeners:
        entry.fn(stage, detail, percent)
    return any(entry.tells_user for entry in listeners)
