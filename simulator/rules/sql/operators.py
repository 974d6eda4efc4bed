"""AWS IoT SQL operators, following the operand tables of the AWS IoT SQL reference ("Operators").

Every operator returns ``UNDEFINED`` for operands outside its table (a missing field, a wrong type), so a WHERE
clause that touches a missing field is not true and the rule does not fire.
"""

from __future__ import annotations

import math
from typing import Any

from simulator.rules.sql.values import UNDEFINED, equal, is_number, to_bool, to_number, to_string, whole


def logical_and(a: Any, b: Any) -> bool | Any:
    x, y = to_bool(a), to_bool(b)
    return UNDEFINED if x is UNDEFINED or y is UNDEFINED else (x and y)


def logical_or(a: Any, b: Any) -> bool | Any:
    x, y = to_bool(a), to_bool(b)
    return UNDEFINED if x is UNDEFINED or y is UNDEFINED else (x or y)


def logical_not(a: Any) -> bool | Any:
    x = to_bool(a)
    return UNDEFINED if x is UNDEFINED else not x


def not_equal(a: Any, b: Any) -> bool | Any:
    r = equal(a, b)
    return UNDEFINED if r is UNDEFINED else not r


def _ordered(op: str):
    def compare(a: Any, b: Any) -> bool | Any:
        x, y = to_number(a), to_number(b)
        if x is UNDEFINED or y is UNDEFINED:
            return UNDEFINED
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
    return compare


COMPARISONS = {"=": equal, "<>": not_equal, "<": _ordered("<"), "<=": _ordered("<="), ">": _ordered(">"),
               ">=": _ordered(">=")}


def add(a: Any, b: Any) -> Any:
    """``+`` concatenates when either side is a String, adds numbers otherwise."""
    if a is UNDEFINED or b is UNDEFINED:
        return UNDEFINED
    if isinstance(a, str) or isinstance(b, str):
        x, y = to_string(a), to_string(b)
        return UNDEFINED if x is UNDEFINED or y is UNDEFINED else x + y
    if is_number(a) and is_number(b):
        return whole(a + b)
    return UNDEFINED


def _numeric(fn):
    def op(a: Any, b: Any) -> Any:
        x, y = to_number(a), to_number(b)
        if x is UNDEFINED or y is UNDEFINED:
            return UNDEFINED
        return fn(x, y)
    return op


def _div(x: int | float, y: int | float) -> Any:
    if y == 0:
        return UNDEFINED
    if isinstance(x, int) and isinstance(y, int):
        q = abs(x) // abs(y)  # Int / Int truncates toward zero
        return q if (x >= 0) == (y >= 0) else -q
    return whole(x / y)


def _mod(x: int | float, y: int | float) -> Any:
    if y == 0:
        return UNDEFINED
    if isinstance(x, int) and isinstance(y, int):
        r = abs(x) % abs(y)  # the remainder takes the sign of the dividend
        return r if x >= 0 else -r
    return whole(math.fmod(x, y))


ARITHMETIC = {"+": add, "-": _numeric(lambda x, y: whole(x - y)), "*": _numeric(lambda x, y: whole(x * y)),
              "/": _numeric(_div), "%": _numeric(_mod)}


def negate(a: Any) -> Any:
    x = to_number(a)
    return UNDEFINED if x is UNDEFINED else -x


def is_in(a: Any, collection: Any) -> bool | Any:
    """``a IN b``: true when an item of the Array ``b`` equals ``a`` (a non-Array ``b`` is compared as is)."""
    if a is UNDEFINED or collection is UNDEFINED:
        return UNDEFINED
    items = collection if isinstance(collection, list) else [collection]
    return any(equal(a, item) is True for item in items)


def member(v: Any, name: str) -> Any:
    """``v.name``: a key of an Object; anything else is UNDEFINED."""
    return v.get(name, UNDEFINED) if isinstance(v, dict) else UNDEFINED


def index(v: Any, i: Any) -> Any:
    """``v[i]``: an Array item (0-based) or an Object key."""
    if isinstance(v, list):
        if isinstance(i, bool) or not is_number(i):
            return UNDEFINED
        n = int(i)
        return v[n] if 0 <= n < len(v) else UNDEFINED
    if isinstance(v, dict) and isinstance(i, str):
        return v.get(i, UNDEFINED)
    return UNDEFINED
