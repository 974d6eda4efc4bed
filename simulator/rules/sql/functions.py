"""The AWS IoT SQL functions the simulator runs, with AWS's argument conversions ("Functions" in the AWS IoT SQL
reference). A function given arguments it cannot use returns Undefined, as AWS documents."""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.rules.sql.message import Message, Payload
from simulator.rules.sql.operators import ARITHMETIC
from simulator.rules.sql.values import (
    UNDEFINED,
    decode_payload,
    to_int,
    to_number,
    to_string,
    whole,
)


@dataclass(frozen=True)
class Builtin:
    name: str
    min_args: int
    max_args: int
    fn: Callable[..., Any]  # fn(message, *args)
    raw_payload: bool = False  # receives ``*`` as a Payload instead of the decoded document


def _numeric(fn: Callable[[int | float], Any]) -> Callable[..., Any]:
    def call(_m: Message, v: Any) -> Any:
        n = to_number(v)
        return UNDEFINED if n is UNDEFINED else fn(n)
    return call


def _textual(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(_m: Message, *args: Any) -> Any:
        texts = [to_string(a) for a in args]
        return UNDEFINED if any(t is UNDEFINED for t in texts) else fn(*texts)
    return call


def _round(n: int | float) -> int:
    """Half away from zero: round(1.5) = 2, round(-1.5) = -2 (AWS's examples)."""
    return int(math.copysign(math.floor(abs(n) + 0.5), n))


def _topic(m: Message, level: Any = None) -> Any:
    topic = m.topic
    if topic.startswith("$aws/rules/"):  # Basic Ingest: the $aws/rules/<rule>/ prefix is not part of topic()
        topic = topic.split("/", 3)[3] if topic.count("/") >= 3 else ""
    if level is None:
        return topic
    n = to_int(level)
    parts = topic.split("/")
    return parts[n - 1] if n is not UNDEFINED and 1 <= n <= len(parts) else UNDEFINED


def _concat(_m: Message, *args: Any) -> Any:
    if not args:
        return UNDEFINED
    if len(args) == 1:
        return args[0]
    if any(a is UNDEFINED for a in args):
        return UNDEFINED
    if any(isinstance(a, list) for a in args):
        out: list = []
        for a in args:
            out.extend(a) if isinstance(a, list) else out.append(a)
        return out
    if any(isinstance(a, str) for a in args):
        texts = [to_string(a) for a in args]
        return UNDEFINED if any(t is UNDEFINED for t in texts) else "".join(texts)
    return UNDEFINED


def _get(_m: Message, collection: Any, key: Any) -> Any:
    if isinstance(collection, (list, str)):
        n = to_int(key)
        return collection[n] if n is not UNDEFINED and 0 <= n < len(collection) else UNDEFINED
    if isinstance(collection, dict) and isinstance(key, str):
        return collection.get(key, UNDEFINED)
    return UNDEFINED


def _encode(_m: Message, value: Any, scheme: Any) -> Any:
    if scheme != "base64":
        return UNDEFINED
    if isinstance(value, Payload):
        data = value.message.payload
    else:
        text = to_string(value)
        if text is UNDEFINED:
            return UNDEFINED
        data = text.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def _decode(_m: Message, value: Any, scheme: Any) -> Any:
    if scheme != "base64" or not isinstance(value, str):
        return UNDEFINED
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None  # AWS: NULL when the string cannot be decoded
    is_json, doc = decode_payload(data)
    return doc if is_json else data.decode("utf-8", "replace")


def _substring(_m: Message, value: Any, start: Any, end: Any = None) -> Any:
    text, a = to_string(value), to_int(to_number(start))
    if text is UNDEFINED or a is UNDEFINED:
        return UNDEFINED
    b = len(text) if end is None else to_int(to_number(end))
    if b is UNDEFINED:
        return UNDEFINED
    a, b = min(max(a, 0), len(text)), min(max(b, 0), len(text))
    return text[a:b] if a < b else ""


def _power(_m: Message, x: Any, y: Any) -> Any:
    a, b = to_number(x), to_number(y)
    if a is UNDEFINED or b is UNDEFINED:
        return UNDEFINED
    try:
        return whole(math.pow(a, b))  # a Decimal in double precision; a whole one is an Int (SQL 2016-03-23)
    except (OverflowError, ValueError):
        return UNDEFINED


def _sqrt(n: int | float) -> Any:
    return whole(math.sqrt(n)) if n >= 0 else UNDEFINED


def _hash(algorithm: str) -> Callable[..., Any]:
    return _textual(lambda s: hashlib.new(algorithm, s.encode("utf-8")).hexdigest())


def _bool_of_texts(fn: Callable[[str, str], bool]) -> Callable[..., Any]:
    def call(_m: Message, a: Any, b: Any) -> Any:
        x, y = to_string(a), to_string(b)
        return UNDEFINED if x is UNDEFINED or y is UNDEFINED else fn(x, y)
    return call


_FUNCTIONS = [
    # message context
    Builtin("topic", 0, 1, _topic),
    Builtin("timestamp", 0, 0, lambda m: m.received_ms),
    Builtin("clientid", 0, 0, lambda m: m.client_id),
    Builtin("traceid", 0, 0, lambda m: m.trace_id),
    Builtin("newuuid", 0, 0, lambda m: str(uuid.uuid4())),
    # numbers
    Builtin("abs", 1, 1, _numeric(abs)),
    Builtin("round", 1, 1, _numeric(_round)),
    Builtin("floor", 1, 1, _numeric(lambda n: math.floor(n))),
    Builtin("ceil", 1, 1, _numeric(lambda n: math.ceil(n))),
    Builtin("sign", 1, 1, _numeric(lambda n: (n > 0) - (n < 0))),
    Builtin("sqrt", 1, 1, _numeric(_sqrt)),
    Builtin("mod", 2, 2, lambda m, a, b: ARITHMETIC["%"](a, b)),
    Builtin("power", 2, 2, _power),
    # strings
    Builtin("lower", 1, 1, _textual(str.lower)),
    Builtin("upper", 1, 1, _textual(str.upper)),
    Builtin("trim", 1, 1, _textual(lambda s: s.strip(" \t"))),
    Builtin("ltrim", 1, 1, _textual(lambda s: s.lstrip(" \t"))),
    Builtin("rtrim", 1, 1, _textual(lambda s: s.rstrip(" \t"))),
    Builtin("length", 1, 1, _textual(len)),
    Builtin("numbytes", 1, 1, _textual(lambda s: len(s.encode("utf-8")))),
    Builtin("replace", 3, 3, _textual(lambda s, old, new: s.replace(old, new))),
    Builtin("indexof", 2, 2, _textual(lambda s, sub: s.find(sub))),
    Builtin("startswith", 2, 2, _bool_of_texts(str.startswith)),
    Builtin("endswith", 2, 2, _bool_of_texts(str.endswith)),
    Builtin("substring", 2, 3, _substring),
    Builtin("concat", 0, 255, _concat),
    Builtin("md5", 1, 1, _hash("md5")),
    Builtin("sha1", 1, 1, _hash("sha1")),
    Builtin("sha256", 1, 1, _hash("sha256")),
    # collections, types, encodings
    Builtin("get", 2, 2, _get),
    Builtin("isundefined", 1, 1, lambda m, v: v is UNDEFINED),
    Builtin("isnull", 1, 1, lambda m, v: v is None),
    Builtin("encode", 2, 2, _encode, raw_payload=True),
    Builtin("decode", 2, 2, _decode),
]

FUNCTIONS: dict[str, Builtin] = {f.name: f for f in _FUNCTIONS}


def unwrap(v: Any) -> Any:
    return v.value if isinstance(v, Payload) else v

