"""AWS IoT SQL values: the Undefined marker, payload decoding and the documented type conversions.

Values are plain Python: ``None`` is Null, ``bool``, ``int`` (Int), ``float`` (Decimal, carried in double
precision), ``str``, ``list`` (Array), ``dict`` (Object). ``UNDEFINED`` is AWS's Undefined (a missing field, a
function called with arguments of the wrong type). ``bytes`` stands for a non-JSON (binary) payload selected with
``*``. As in SQL version 2016-03-23, a whole-number Decimal such as ``10.0`` is processed as the Int ``10``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any


class _Undefined:
    """AWS IoT's Undefined: not a value; dropped from objects, the empty string when serialized alone."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()

# The strings AWS IoT converts to Decimal (its documented pattern ^-?\d+(\.\d+)?((?i)E-?\d+)?$)
_DECIMAL_STRING = re.compile(r"-?\d+(\.\d+)?([eE]-?\d+)?")
_WHOLE_LIMIT = 1e34  # Int holds 34 digits


def whole(x: float | int) -> float | int:
    """A Decimal that is a whole number becomes an Int (SQL 2016-03-23)."""
    if isinstance(x, float) and x.is_integer() and abs(x) < _WHOLE_LIMIT:
        return int(x)
    return x


def decode_payload(payload: bytes) -> tuple[bool, Any]:
    """(is_json, document): the parsed JSON document, or (False, payload) for a binary payload."""
    try:
        return True, json.loads(payload, parse_float=lambda s: whole(float(s)))
    except (ValueError, UnicodeDecodeError):
        return False, payload


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def type_name(v: Any) -> str:
    if v is UNDEFINED:
        return "Undefined"
    if v is None:
        return "Null"
    if isinstance(v, bool):
        return "Boolean"
    return {int: "Int", float: "Decimal", str: "String", list: "Array", dict: "Object",
            bytes: "Binary"}.get(type(v), type(v).__name__)


def parse_decimal(s: str) -> int | float | Any:
    """A numeric string as Int/Decimal, or UNDEFINED."""
    s = s.strip()
    if not _DECIMAL_STRING.fullmatch(s):
        return UNDEFINED
    if "." in s or "e" in s or "E" in s:
        return whole(float(s))
    return int(s)


def to_number(v: Any) -> int | float | Any:
    """Operand conversion for arithmetic and comparisons: Int/Decimal as they are, numeric strings parsed,
    everything else UNDEFINED."""
    if is_number(v):
        return v
    if isinstance(v, str):
        return parse_decimal(v)
    return UNDEFINED


def to_bool(v: Any) -> bool | Any:
    """Boolean operand: a Boolean, or the strings "true"/"false" in any case; otherwise UNDEFINED."""
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return UNDEFINED


def to_int(v: Any) -> int | Any:
    """Standard conversion to Int: Decimal rounded to nearest, numeric strings truncated; else UNDEFINED."""
    if isinstance(v, bool):
        return UNDEFINED
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(math.floor(v + 0.5)) if math.isfinite(v) else UNDEFINED
    if isinstance(v, str):
        n = parse_decimal(v)
        return UNDEFINED if n is UNDEFINED else int(n)
    return UNDEFINED


def dumps(v: Any) -> str:
    """Compact JSON, as AWS IoT writes outgoing payloads."""
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def to_string(v: Any) -> str | Any:
    """Standard conversion to String; Null and Undefined give UNDEFINED."""
    if v is UNDEFINED or v is None:
        return UNDEFINED
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, dict)):
        return dumps(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return UNDEFINED


def equal(a: Any, b: Any) -> bool | Any:
    """The ``=`` operator: Int and Decimal compare as numbers, arrays in order, objects by keys and values,
    mismatched types are unequal, anything compared with Undefined is Undefined."""
    if a is UNDEFINED or b is UNDEFINED:
        return UNDEFINED
    return _same(a, b)


def _same(a: Any, b: Any) -> bool:
    if is_number(a) and is_number(b):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def output_bytes(v: Any) -> bytes:
    """The outgoing payload of a SELECT result: JSON, raw bytes for a binary ``*``, empty for Undefined."""
    if isinstance(v, bytes):
        return v
    if v is UNDEFINED:
        return b""
    return dumps(v).encode("utf-8")
