"""Indentation as Python 2 read it: a tab advances to the next multiple of 8 columns.

Python 2 accepted indentation that mixes tabs and spaces; Python 3 rejects it (``TabError``) whenever the two
readings disagree. Expanding the tabs of each line's indentation exactly as Python 2's tokenizer counted them
gives the same block structure in both. Lines that continue a multi-line string literal are left alone (their
tabs are part of the string's value).
"""

from __future__ import annotations

import io

from fissix.pgen2 import token, tokenize

TAB_SIZE = 8


def _string_continuation_lines(text: str) -> set[int]:
    """1-based numbers of the lines that begin inside a string literal."""
    inside: set[int] = set()
    try:
        for kind, _value, start, end, _line in tokenize.generate_tokens(io.StringIO(text).readline):
            if kind == token.STRING and end[0] > start[0]:
                inside.update(range(start[0] + 1, end[0] + 1))
    except (tokenize.TokenError, IndentationError):
        pass  # the parser reports the error with its line; indentation up to it is still expanded
    return inside


def _width(whitespace: str) -> int:
    column = 0
    for char in whitespace:
        if char == "\t":
            column = (column // TAB_SIZE + 1) * TAB_SIZE
        elif char == "\f":
            column = 0
        else:
            column += 1
    return column


def expand_py2_tabs(text: str) -> tuple[str, tuple[int, ...]]:
    """The source with every indentation tab expanded as Python 2 did, and the (1-based) lines that changed."""
    lines = text.splitlines(keepends=True)
    skip = _string_continuation_lines(text) if "\t" in text else set()
    changed: list[int] = []
    for number, line in enumerate(lines, start=1):
        body = line.lstrip(" \t\f")
        indent = line[: len(line) - len(body)]
        if "\t" not in indent or number in skip:
            continue
        lines[number - 1] = " " * _width(indent) + body
        changed.append(number)
    return "".join(lines), tuple(changed)
