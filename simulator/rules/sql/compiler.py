"""Turn a parsed AWS IoT SQL statement into a ``Query``: Python closures evaluated once per message.

Everything that can be checked without a message is checked here, so a rule that loads runs: unknown functions,
argument counts, cast types, encodings, the topic filter, and SELECT items that need an ``AS`` name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lark import Token, Transformer, v_args
from lark.exceptions import VisitError

from simulator.rules.sql import operators as ops
from simulator.rules.sql.functions import FUNCTIONS, unwrap
from simulator.rules.sql.grammar import SqlError, parse
from simulator.rules.sql.message import Message, Payload
from simulator.rules.sql.query import Query, SelectItem
from simulator.rules.sql.values import UNDEFINED, dumps, is_number, parse_decimal, to_bool, whole

Fn = Callable[[Message], Any]
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0"}
_CASTS = {"string": "string", "nvarchar": "string", "text": "string", "ntext": "string", "varchar": "string",
          "int": "int", "integer": "int", "double": "decimal", "decimal": "decimal", "bool": "bool",
          "boolean": "bool"}


@dataclass(frozen=True)
class Expr:
    fn: Fn
    name: str | None = None  # the output key when SELECTed without AS
    constant: bool = False
    value: Any = None  # a constant's value


def _const(value: Any) -> Expr:
    return Expr(lambda _m: value, constant=True, value=value)


def _unquote(token: str) -> str:
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 5 < len(body):
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def cast_value(kind: str, v: Any) -> Any:
    """``cast(v AS type)`` per AWS's casting tables."""
    if v is UNDEFINED or v is None or isinstance(v, bytes):
        return UNDEFINED
    if kind == "string":
        if isinstance(v, bool):
            return "true" if v else "false"
        return v if isinstance(v, str) else dumps(v) if isinstance(v, (list, dict)) else str(v)
    if isinstance(v, bool):
        return {"int": int(v), "decimal": int(v), "bool": v}[kind]
    if kind == "bool":
        return v != 0 if is_number(v) else to_bool(v)
    n = v if is_number(v) else parse_decimal(v) if isinstance(v, str) else UNDEFINED
    if n is UNDEFINED:
        return UNDEFINED
    return int(n // 1) if kind == "int" else whole(n)


def _check_topic_filter(topic_filter: str) -> None:
    levels = topic_filter.split("/")
    if not topic_filter:
        raise SqlError("the FROM topic filter is empty")
    for i, level in enumerate(levels):
        if ("#" in level and (level != "#" or i != len(levels) - 1)) or ("+" in level and level != "+"):
            raise SqlError(f"'{topic_filter}' is not a valid MQTT topic filter ('+' must fill a whole level, "
                           "'#' must be the last level)")


@v_args(inline=True)
class _Compiler(Transformer):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    # literals
    def number(self, tok: Token) -> Expr:
        return _const(parse_decimal(str(tok)))

    def string(self, tok: Token) -> Expr:
        return _const(_unquote(str(tok)))

    def true(self) -> Expr:
        return _const(True)

    def false(self) -> Expr:
        return _const(False)

    def null(self) -> Expr:
        return _const(None)

    def array(self, *items: Expr | None) -> Expr:
        fns = [e.fn for e in items if e is not None]
        return Expr(lambda m: [v for v in (f(m) for f in fns) if v is not UNDEFINED])

    def pair(self, key: Token, value: Expr) -> tuple[str, Fn]:
        return _unquote(str(key)), value.fn

    def object(self, *pairs: tuple[str, Fn] | None) -> Expr:
        kv = [p for p in pairs if p is not None]
        return Expr(lambda m: {k: v for k, v in ((k, f(m)) for k, f in kv) if v is not UNDEFINED})

    # names and paths
    def field(self, name: Token) -> Expr:
        key = str(name)
        return Expr(lambda m: ops.member(m.document, key), name=key)

    def member(self, obj: Expr, name: Token) -> Expr:
        f, key = obj.fn, str(name)
        return Expr(lambda m: ops.member(f(m), key), name=key)

    def index(self, obj: Expr, idx: Expr) -> Expr:
        f, i = obj.fn, idx.fn
        return Expr(lambda m: ops.index(f(m), i(m)), name=obj.name)

    # operators
    def binop(self, a: Expr, op: Token, b: Expr) -> Expr:
        fn, x, y = ops.ARITHMETIC[str(op)], a.fn, b.fn
        return Expr(lambda m: fn(x(m), y(m)))

    def neg(self, a: Expr) -> Expr:
        x = a.fn
        return Expr(lambda m: ops.negate(x(m)))

    def compare(self, a: Expr, op: Token, b: Expr) -> Expr:
        fn, x, y = ops.COMPARISONS[str(op)], a.fn, b.fn
        return Expr(lambda m: fn(x(m), y(m)))

    def and_(self, a: Expr, b: Expr) -> Expr:
        x, y = a.fn, b.fn
        return Expr(lambda m: ops.logical_and(x(m), y(m)))

    def or_(self, a: Expr, b: Expr) -> Expr:
        x, y = a.fn, b.fn
        return Expr(lambda m: ops.logical_or(x(m), y(m)))

    def not_(self, a: Expr) -> Expr:
        x = a.fn
        return Expr(lambda m: ops.logical_not(x(m)))

    def is_null(self, a: Expr) -> Expr:
        x = a.fn
        return Expr(lambda m: x(m) in (None, UNDEFINED))

    def is_not_null(self, a: Expr) -> Expr:
        x = a.fn
        return Expr(lambda m: x(m) not in (None, UNDEFINED))

    def in_tuple(self, *items: Expr) -> Expr:
        return self.array(*items)

    def in_(self, a: Expr, rhs: Expr) -> Expr:
        x, y = a.fn, rhs.fn
        return Expr(lambda m: ops.is_in(x(m), y(m)))

    def not_in(self, a: Expr, rhs: Expr) -> Expr:
        x, y = a.fn, rhs.fn
        return Expr(lambda m: ops.logical_not(ops.is_in(x(m), y(m))))

    def when(self, cond: Expr, result: Expr) -> tuple[Fn, Fn]:
        return cond.fn, result.fn

    def case(self, subject: Expr | None, *rest: Any) -> Expr:
        *whens, default = rest
        otherwise = default.fn if default is not None else (lambda _m: UNDEFINED)
        if subject is None:
            def searched(m: Message) -> Any:
                for c, r in whens:
                    if to_bool(c(m)) is True:
                        return r(m)
                return otherwise(m)
            return Expr(searched)
        s = subject.fn

        def simple(m: Message) -> Any:
            v = s(m)
            if v is UNDEFINED:
                return UNDEFINED
            for c, r in whens:
                if ops.equal(v, c(m)) is True:
                    return r(m)
            return otherwise(m)
        return Expr(simple)

    def cast(self, value: Expr, type_name: Token) -> Expr:
        kind = _CASTS.get(str(type_name).lower())
        if kind is None:
            raise SqlError(f"unsupported cast type '{type_name}' at column {type_name.column} "
                           f"(use one of: {', '.join(sorted(_CASTS))})")
        x = value.fn
        return Expr(lambda m: cast_value(kind, x(m)))

    def star_arg(self, _tok: Token) -> Expr:
        return Expr(lambda m: Payload(m))

    def call(self, name: Token, *args: Expr | None) -> Expr:
        builtin = FUNCTIONS.get(str(name).lower())
        if builtin is None:
            raise SqlError(f"unsupported function '{name}' at column {name.column} "
                           f"(supported: {', '.join(sorted(FUNCTIONS))})")
        given = [a for a in args if a is not None]
        if not builtin.min_args <= len(given) <= builtin.max_args:
            want = builtin.min_args if builtin.min_args == builtin.max_args else \
                f"{builtin.min_args} to {builtin.max_args}"
            raise SqlError(f"function '{name}' takes {want} argument(s), got {len(given)} (column {name.column})")
        if builtin.name in ("encode", "decode") and given[1].constant and given[1].value != "base64":
            raise SqlError(f"{builtin.name}() supports only the 'base64' scheme (column {name.column})")
        fn, fns = builtin.fn, [a.fn for a in given]
        if builtin.raw_payload:
            return Expr(lambda m: fn(m, *(f(m) for f in fns)), name=builtin.name)
        return Expr(lambda m: fn(m, *(unwrap(f(m)) for f in fns)), name=builtin.name)

    # statement
    def alias(self, *names: Token) -> tuple[str, ...]:
        return tuple(str(n) for n in names)

    def star_item(self, _tok: Token) -> SelectItem:
        return SelectItem(None, None)

    @v_args(inline=True, meta=True)
    def expr_item(self, meta: Any, expr: Expr, alias: tuple[str, ...] | None) -> SelectItem:
        if alias is None:
            if expr.name is None:
                source = self.text[meta.start_pos:meta.end_pos]
                raise SqlError(f"SELECT item '{source}' (column {meta.column}) needs a name: add AS <name>")
            alias = (expr.name,)
        return SelectItem(alias, expr.fn)

    def select_items(self, *items: SelectItem) -> tuple[SelectItem, ...]:
        return items

    def select_value(self, expr: Expr) -> Fn:
        return expr.fn

    def where_clause(self, expr: Expr) -> Fn:
        return expr.fn

    def query(self, select: Any, topic: Token, where: Fn | None) -> Query:
        topic_filter = _unquote(str(topic))
        _check_topic_filter(topic_filter)
        if callable(select):
            return Query(self.text, topic_filter, where, (), select)
        return Query(self.text, topic_filter, where, select, None)


def _transform(text: str, start: str) -> Any:
    tree = parse(text, start)
    try:
        return _Compiler(text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, SqlError):
            raise exc.orig_exc from None
        raise


def compile_query(sql: str) -> Query:
    """Parse and check a rule's SQL statement; SqlError names what is not supported."""
    return _transform(sql, "query")


def compile_expression(text: str) -> Fn:
    """An expression on its own (the inside of a ``${...}`` substitution template)."""
    return _transform(text, "expr").fn
