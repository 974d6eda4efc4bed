"""What the simulator is busy with, for people: "fetching model ssd-mobilenet-v2-coco (34 %)", "converting
model …", "starting the Lambda". Any code reports with ``report(stage, detail, percent)``; status displays (the
web page, the window, the terminal) listen. Reports come from whatever thread does the work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Listener = Callable[[str, str, "float | None"], None]  # (stage, detail, percent or None)

_listeners: list[Listener] = []
_lock = threading.Lock()


def listen(fn: Listener) -> Callable[[], None]:
    """Call ``fn`` on every report; returns a function that stops it."""
    with _lock:
        _listeners.append(fn)

    def stop() -> None:
        with _lock:
            if fn in _listeners:
                _listeners.remove(fn)

    return stop


def report(stage: str, detail: str = "", percent: float | None = None) -> None:
    with _lock:
        listeners = list(_listeners)
    for fn in listeners:
        fn(stage, detail, percent)
