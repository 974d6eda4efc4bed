"""Typed access to an MXNet node's attributes, which the symbol file stores as strings ("(3, 3)", "True", "relu").

Each getter takes the default MXNet itself uses; without one the attribute is required. The value ``"None"``
(how MXNet writes an unset optional parameter) counts as absent. ``opt_*`` getters return None when absent.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from simulator.inference.mxnet.errors import ModelFormatError

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


def _literal(raw: str) -> object:
    try:
        return ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return raw


@dataclass(frozen=True)
class NodeAttrs:
    """The attributes of one node; ``where`` (e.g. ``"model-symbol.json:120: node 'conv0' (Convolution)"``)
    prefixes every error."""

    values: Mapping[str, str]
    where: str

    def __contains__(self, key: str) -> bool:
        return self._get(key) is not None

    def _get(self, key: str) -> str | None:
        raw = self.values.get(key)
        return None if raw is None or raw.strip() == "None" else raw

    def _missing(self, key: str) -> ModelFormatError:
        return ModelFormatError(f"{self.where}: required attribute '{key}' is missing")

    def _bad(self, key: str, kind: str) -> ModelFormatError:
        return ModelFormatError(f"{self.where}: attribute '{key}' = {self.values[key]!r} is not {kind}")

    def opt_text(self, key: str) -> str | None:
        return self._get(key)

    def text(self, key: str, default: str | None = None) -> str:
        raw = self._get(key)
        if raw is not None:
            return raw
        if default is None:
            raise self._missing(key)
        return default

    def flag(self, key: str, default: bool | None = None) -> bool:
        raw = self._get(key)
        if raw is None:
            if default is None:
                raise self._missing(key)
            return default
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise self._bad(key, "a boolean")

    def opt_number(self, key: str) -> float | None:
        raw = self._get(key)
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError:
            raise self._bad(key, "a number") from None

    def number(self, key: str, default: float | None = None) -> float:
        value = self.opt_number(key)
        if value is not None:
            return value
        if default is None:
            raise self._missing(key)
        return float(default)

    def opt_integer(self, key: str) -> int | None:
        value = self.opt_number(key)
        if value is None:
            return None
        if value != int(value):
            raise self._bad(key, "an integer")
        return int(value)

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.opt_integer(key)
        if value is not None:
            return value
        if default is None:
            raise self._missing(key)
        return default

    def _seq(self, key: str, kind: type, allow_none: bool) -> tuple | None:
        raw = self._get(key)
        if raw is None:
            return None
        value = _literal(raw)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = (value,)
        if not isinstance(value, tuple | list):
            raise self._bad(key, f"a tuple of {kind.__name__}s")
        out: list = []
        for item in value:
            if item is None and allow_none:
                out.append(None)
            elif isinstance(item, int | float) and not isinstance(item, bool) and (kind is float or item == int(item)):
                out.append(kind(item))
            else:
                raise self._bad(key, f"a tuple of {kind.__name__}s")
        return tuple(out)

    def opt_ints(self, key: str) -> tuple[int, ...] | None:
        return self._seq(key, int, allow_none=False)

    def ints(self, key: str, default: tuple[int, ...] | None = None) -> tuple[int, ...]:
        value = self.opt_ints(key)
        if value is not None:
            return value
        if default is None:
            raise self._missing(key)
        return default

    def floats(self, key: str, default: tuple[float, ...] | None = None) -> tuple[float, ...]:
        value = self._seq(key, float, allow_none=False)
        if value is not None:
            return value
        if default is None:
            raise self._missing(key)
        return default

    def optional_ints(self, key: str, default: tuple[int | None, ...] | None = None) -> tuple[int | None, ...]:
        """A tuple that may hold ``None`` entries (``slice``'s begin/end/step)."""
        value = self._seq(key, int, allow_none=True)
        if value is not None:
            return value
        if default is None:
            raise self._missing(key)
        return default

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(key, default)
        if value not in options:
            raise ModelFormatError(f"{self.where}: attribute '{key}' = {value!r} is not supported "
                                   f"(supported: {', '.join(options)})")
        return value
