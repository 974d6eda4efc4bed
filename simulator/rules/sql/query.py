"""A compiled rule statement: which topics it listens to, whether a message passes WHERE, what SELECT makes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from simulator.rules.sql.message import Message
from simulator.rules.sql.values import UNDEFINED, to_bool


class EvalError(Exception):
    """A message the statement cannot be applied to (e.g. a binary payload with ``SELECT *, x``)."""


class _NoMatch:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_MATCH"


NO_MATCH: Any = _NoMatch()


@dataclass(frozen=True)
class SelectItem:
    """``*`` (path None) or an expression written at ``path`` (``AS a.b`` writes ``{"a": {"b": ...}}``)."""

    path: tuple[str, ...] | None
    fn: Callable[[Message], Any] | None


def _put(out: dict, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        nxt = out.get(key)
        if not isinstance(nxt, dict):
            nxt = out[key] = {}
        out = nxt
    out[path[-1]] = value


@dataclass(frozen=True)
class Query:
    sql: str
    topic_filter: str
    where: Callable[[Message], Any] | None
    items: tuple[SelectItem, ...]
    value: Callable[[Message], Any] | None  # SELECT VALUE <expr>

    def matches(self, topic: str) -> bool:
        return mqtt.topic_matches_sub(self.topic_filter, topic)

    def evaluate(self, m: Message) -> Any:
        """The outgoing payload (dict, any JSON value, or bytes for a binary ``SELECT *``); NO_MATCH when the
        WHERE clause is not true (false, Undefined, or not a Boolean)."""
        if self.where is not None and to_bool(self.where(m)) is not True:
            return NO_MATCH
        if self.value is not None:
            return self.value(m)
        out: dict = {}
        for item in self.items:
            if item.path is None or item.fn is None:
                doc = m.document
                if isinstance(doc, dict):
                    out.update(doc)
                    continue
                if len(self.items) > 1:
                    kind = "a binary (non-JSON)" if not m.is_json else f"a JSON {type(doc).__name__}"
                    raise EvalError(f"{kind} payload can be selected with * alone, not with other items "
                                    "(AWS IoT 'Binary payloads')")
                return doc
            value = item.fn(m)
            if value is not UNDEFINED:
                _put(out, item.path, value)
        return out
