"""Per-rule counters, and their frozen, JSON-ready snapshots (``RuleStatus``) for the viewers and MQTT."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict

from simulator.rules.sql.values import UNDEFINED, dumps

LAST_OUTPUT_CHARS = 4096


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def describe_output(output: Any) -> str:
    """The outgoing payload as text for the status, cut to a few KB."""
    if isinstance(output, bytes):
        return f"<binary payload, {len(output)} bytes>"
    text = "" if output is UNDEFINED else dumps(output)
    return text if len(text) <= LAST_OUTPUT_CHARS else text[:LAST_OUTPUT_CHARS] + "…"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActionStatus(_Frozen):
    kind: str  # "republish", "s3", ...
    target: str  # the topic, bucket, table... as written in the rule
    succeeded: int
    failed: int
    last_error: str | None
    last_error_at: str | None  # ISO 8601, UTC


class RuleStatus(_Frozen):
    """One rule's state. ``received``: messages on its topic filter; ``matched``: those that passed WHERE;
    ``dropped``: those its full queue could not take; ``errors``: messages its SQL could not be applied to."""

    name: str
    source: str  # file:line of the rule
    enabled: bool
    sql: str
    topic_filter: str
    received: int
    matched: int
    dropped: int
    queued: int
    errors: int
    actions_succeeded: int
    actions_failed: int
    last_error: str | None
    last_error_at: str | None
    last_output: str | None
    last_output_at: str | None
    actions: tuple[ActionStatus, ...]
    error_action: ActionStatus | None


class _ActionCounter:
    def __init__(self, kind: str, target: str) -> None:
        self.kind, self.target = kind, target
        self.succeeded = self.failed = 0
        self.last_error: str | None = None
        self.last_error_at: str | None = None

    def snapshot(self) -> ActionStatus:
        return ActionStatus(kind=self.kind, target=self.target, succeeded=self.succeeded, failed=self.failed,
                            last_error=self.last_error, last_error_at=self.last_error_at)


class RuleCounters:
    """Counted from the broker's thread (received, dropped) and the rule's worker (the rest)."""

    def __init__(self, actions: list[tuple[str, str]], error_action: tuple[str, str] | None) -> None:
        self._lock = threading.Lock()
        self.received = self.matched = self.dropped = self.errors = 0
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self.last_output: str | None = None
        self.last_output_at: str | None = None
        self.actions = [_ActionCounter(k, t) for k, t in actions]
        self.error_action = _ActionCounter(*error_action) if error_action else None

    def on_received(self, queued: bool) -> None:
        with self._lock:
            self.received += 1
            if not queued:
                self.dropped += 1

    def on_matched(self, output: Any) -> None:
        text = describe_output(output)
        with self._lock:
            self.matched += 1
            self.last_output, self.last_output_at = text, _now()

    def on_error(self, message: str) -> None:
        with self._lock:
            self.errors += 1
            self.last_error, self.last_error_at = message, _now()

    def on_action(self, index: int | None, error: str | None) -> None:
        """Action ``index`` (None: the error action) succeeded (error None) or failed."""
        with self._lock:
            counter = self.error_action if index is None else self.actions[index]
            if counter is None:
                return
            if error is None:
                counter.succeeded += 1
                return
            counter.failed += 1
            counter.last_error, counter.last_error_at = error, _now()
            self.last_error, self.last_error_at = error, counter.last_error_at

    def snapshot(self, *, name: str, source: str, enabled: bool, sql: str, topic_filter: str,
                 queued: int) -> RuleStatus:
        with self._lock:
            return RuleStatus(
                name=name, source=source, enabled=enabled, sql=sql, topic_filter=topic_filter,
                received=self.received, matched=self.matched, dropped=self.dropped, queued=queued,
                errors=self.errors, actions_succeeded=sum(a.succeeded for a in self.actions),
                actions_failed=sum(a.failed for a in self.actions), last_error=self.last_error,
                last_error_at=self.last_error_at, last_output=self.last_output,
                last_output_at=self.last_output_at, actions=tuple(a.snapshot() for a in self.actions),
                error_action=self.error_action.snapshot() if self.error_action else None)
