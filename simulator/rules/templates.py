"""Substitution templates: ``${expression}`` inside an action field, evaluated against the original message.

Any AWS IoT SQL expression may stand inside ``${}`` (``${topic(3)}``, ``${timestamp()}``, ``${thing}``,
``${replace(topic(), '/', '-')}``); aliases made with AS in the SELECT are not visible, as on AWS. The value is
converted to a string (an Undefined value gives the empty string).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.rules.sql import SqlError, compile_expression
from simulator.rules.sql.message import Message
from simulator.rules.sql.values import UNDEFINED, to_string


@dataclass(frozen=True)
class Template:
    text: str
    parts: tuple[str | Callable[[Message], Any], ...]

    @property
    def is_literal(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def render(self, m: Message) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = to_string(part(m))
                out.append("" if value is UNDEFINED else value)
        return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` that closes the template opened just before ``start`` (braces inside object literals
    and quoted strings are skipped)."""
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise SqlError(f"'${{' at position {start - 1} has no closing '}}'")


def compile_template(text: str) -> Template:
    """Split ``text`` into literal parts and compiled expressions; SqlError names a bad expression."""
    parts: list[str | Callable[[Message], Any]] = []
    i = 0
    while True:
        j = text.find("${", i)
        if j < 0:
            parts.append(text[i:])
            break
        parts.append(text[i:j])
        end = _closing_brace(text, j + 2)
        inner = text[j + 2:end]
        if not inner.strip():
            raise SqlError(f"empty substitution template '${{}}' at position {j}")
        try:
            parts.append(compile_expression(inner))
        except SqlError as exc:
            raise SqlError(f"in '${{{inner}}}': {exc}") from None
        i = end + 1
    return Template(text, tuple(p for p in parts if p != ""))
