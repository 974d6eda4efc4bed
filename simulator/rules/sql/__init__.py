"""AWS IoT SQL (2016-03-23): grammar, values and conversions, operators, functions, compiled queries."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.rules.sql.compiler import compile_expression, compile_query
    from simulator.rules.sql.grammar import SqlError
    from simulator.rules.sql.query import NO_MATCH, EvalError, Query
    from simulator.rules.sql.values import UNDEFINED, output_bytes

_WHERE = {"compile_expression": "compiler", "compile_query": "compiler", "SqlError": "grammar",
          "NO_MATCH": "query", "EvalError": "query", "Query": "query", "UNDEFINED": "values",
          "output_bytes": "values"}


def __getattr__(name: str) -> Any:  # imported on first use: the parser (lark) only when a rule is compiled
    if name in _WHERE:
        return getattr(importlib.import_module(f"simulator.rules.sql.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'simulator.rules.sql' has no attribute {name!r}")

__all__ = ["NO_MATCH", "UNDEFINED", "EvalError", "Query", "SqlError", "compile_expression", "compile_query",
           "output_bytes"]
