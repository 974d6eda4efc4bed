"""Rate-limited logging: the same kind of line at most once per interval, with a count of those held back.

``RateLimitFilter`` is a ``logging.Filter`` for library loggers. Its key is the record's logger, level and
*template* (``record.msg`` before ``%`` formatting), so ``"client %s dropped"`` is one kind whatever the client;
for libraries that format with f-strings, numbers, hex ids and quoted text are blanked out of the key. The line
that passes after a quiet spell says how many were held back::

    handler.addFilter(RateLimitFilter(("amqtt", "transitions", "asyncio", "aiohttp"), interval=60))
    # -> "... (1,234 more in the last 60 s)"

Install it on the *handlers* (a logger's own filter does not see its children's records). ``LogThrottle`` does
the same for code that knows what kind of event it logs (the broker's refusals and drops)::

    throttle = LogThrottle(log, interval=60)
    throttle.warning("oversize", "client %s sent %d bytes", client_id, size)
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable

MAX_KINDS = 2000  # kinds remembered; the oldest is forgotten beyond this
_VARIABLE = re.compile(r"'[^']*'|\"[^\"]*\"|0x[0-9a-fA-F]+|[0-9a-fA-F]*\d[0-9a-fA-F]*")


class RateWindow:
    """Per kind: admit one event per interval and count the rest (thread-safe)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._kinds: OrderedDict[Hashable, list[float | int]] = OrderedDict()  # kind -> [last admitted, held back]
        self._lock = threading.Lock()

    def admit(self, kind: Hashable, now: float | None = None) -> int | None:
        """The number held back since the last admitted event of this kind, or None to hold this one back."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._kinds.get(kind)
            if entry is None:
                self._kinds[kind] = [now, 0]
                if len(self._kinds) > MAX_KINDS:
                    self._kinds.popitem(last=False)
                return 0
            if now - entry[0] < self.interval:
                entry[1] = int(entry[1]) + 1
                return None
            held = int(entry[1])
            entry[0], entry[1] = now, 0
            self._kinds.move_to_end(kind)
            return held

    def take_due(self, now: float | None = None) -> list[tuple[Hashable, int]]:
        """Kinds with events held back whose interval is over, with their counts (which restart from zero)."""
        now = time.monotonic() if now is None else now
        due = []
        with self._lock:
            for kind, entry in self._kinds.items():
                if entry[1] and now - entry[0] >= self.interval:
                    due.append((kind, int(entry[1])))
                    entry[0], entry[1] = now, 0
        return due


def held_back_note(held: int, interval: float) -> str:
    return f" ({held:,} more in the last {interval:g} s)" if held else ""


class RateLimitFilter(logging.Filter):
    """Hold back repeats of a log line kind (logger, level, template) within ``interval`` seconds.

    Only records of loggers named by ``prefixes`` (and their children) are limited; ``None`` limits all.
    Tracebacks of limited records are dropped unless the record is at DEBUG level or ``keep_tracebacks``."""

    def __init__(self, prefixes: tuple[str, ...] | None = None, interval: float = 60.0,
                 keep_tracebacks: bool = False) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._window = RateWindow(interval)
        self._keep_tracebacks = keep_tracebacks

    def filter(self, record: logging.LogRecord) -> bool:
        if self._prefixes is not None and not record.name.startswith(self._prefixes):
            return True
        template = record.msg if isinstance(record.msg, str) else repr(type(record.msg))
        key = (record.name, record.levelno, template if record.args else _VARIABLE.sub("_", template))
        held = self._window.admit(key, record.created)
        if held is None:
            return False
        if not self._keep_tracebacks and record.levelno > logging.DEBUG:
            record.exc_info, record.exc_text = None, None
        if held:
            note = held_back_note(held, self._window.interval)
            record.msg = f"{template}{note}" if record.args else f"{record.getMessage()}{note}"
        return True


class LogThrottle:
    """Log each named kind of event at most once per interval, with the count of those held back. ``flush()``
    (called now and then) reports what was held back once its interval is over, even if no event follows."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self._log = logger
        self._window = RateWindow(interval)
        self._latest: dict[str, tuple[int, str, tuple[object, ...]]] = {}  # kind -> the latest held-back event

    def log(self, level: int, kind: str, msg: str, *args: object) -> None:
        if not self._log.isEnabledFor(level):
            return
        held = self._window.admit(kind)
        if held is None:
            self._latest[kind] = (level, msg, args)
        else:
            self._latest.pop(kind, None)
            self._log.log(level, msg + held_back_note(held, self._window.interval), *args)

    def flush(self, now: float | None = None) -> None:
        for kind, held in self._window.take_due(now):
            latest = self._latest.pop(str(kind), None)
            if latest is not None:
                level, msg, args = latest
                self._log.log(level, msg + " (the last of %s in the last %s s)", *args, f"{held:,}",
                              f"{self._window.interval:g}")

    def warning(self, kind: str, msg: str, *args: object) -> None:
        self.log(logging.WARNING, kind, msg, *args)

    def info(self, kind: str, msg: str, *args: object) -> None:
        self.log(logging.INFO, kind, msg, *args)
