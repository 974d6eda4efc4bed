"""Python 2 semantics that modernised Lambdas import: ``old_div``, ``old_round`` and ``cmp``.

The modernising fixers write ``from simulator.runtime.py2.helpers import old_div`` (and the others) into a
converted Lambda wherever the Python 3 operator or builtin would give a different answer than Python 2 did.
"""

from __future__ import annotations

import math
import numbers
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["cmp", "old_div", "old_round"]


def _is_integral(value: Any) -> bool:
    """A Python int/long/bool, a numpy integer scalar, or an integer numpy array (what Python 2 floor-divided)."""
    if isinstance(value, numbers.Integral):
        return True
    dtype = getattr(value, "dtype", None)
    return getattr(dtype, "kind", None) in ("i", "u")


def old_div(a: Any, b: Any) -> Any:
    """Python 2's ``a / b``: floor division when both operands are integers, true division otherwise."""
    if _is_integral(a) and _is_integral(b):
        return a // b
    return a / b


def old_round(number: Any, ndigits: int = 0) -> float:
    """Python 2's ``round``: always a float, halves rounded away from zero (on the exact binary value)."""
    value = float(number)
    if math.isnan(value) or math.isinf(value):
        return value
    exact = Decimal(value).quantize(Decimal(1).scaleb(-int(ndigits)), rounding=ROUND_HALF_UP)
    return float(exact)


def cmp(a: Any, b: Any) -> int:
    """Python 2's ``cmp``: -1, 0 or 1."""
    return (a > b) - (a < b)
