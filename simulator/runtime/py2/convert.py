"""Modernising one Python 2 source file into Python 3 that behaves as the original did.

In order: indentation tabs are expanded as Python 2 read them (``tabs``); the file is parsed with fissix's
Python 2 grammar; the simulator's fixers run on the tree as parsed (integer division, ``sort(cmp=)``, ``cmp``,
``round``, ``file``, the ``string`` module, ``StringIO`` carrying bytes); then fissix's standard 2to3 fixers
(print, except, urllib/urllib2, dict methods, map/filter/zip, xrange, unicode/basestring/long, octal literals,
backticks, raw_input, renamed modules, and — for a module inside a package — implicit relative imports).
The result must compile as Python 3; a file that cannot be read as either Python is reported with its file,
line and the text of that line.
"""

from __future__ import annotations

import difflib
import io
from collections import Counter
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from fissix.pgen2 import token
from fissix.pgen2.parse import ParseError
from fissix.pgen2.tokenize import TokenError, generate_tokens
from fissix.pygram import python_symbols as syms
from fissix.pytree import Leaf

from simulator.errors import LambdaError
from simulator.runtime.py2.detect import python2_reason, read_source
from simulator.runtime.py2.fixbase import Change, add_imports
from simulator.runtime.py2.tabs import expand_py2_tabs
from simulator.runtime.py2.tool import lock as tool_lock
from simulator.runtime.py2.tool import tool as get_tool


class NotConvertibleError(LambdaError):
    """A file that is neither Python 3 nor Python 2 the simulator can modernise; ``line`` is where it fails."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Conversion:
    """A modernised file: the original and new text, every change, and notes on what was left as it was."""

    path: Path
    original: str
    source: str
    encoding: str
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.source != self.original

    def counts(self) -> dict[str, int]:
        """Changes per kind, most frequent first."""
        return dict(Counter(c.kind for c in self.changes).most_common())

    def summary(self) -> str:
        """``modernised from Python 2: 14 changes (print ×9, except ×2, ...)``."""
        return summary_line(self.changes)

    def diff(self, label: str | None = None) -> str:
        """The unified diff from the original to the modernised text."""
        name = label or self.path.name
        return "".join(difflib.unified_diff(self.original.splitlines(keepends=True),
                                            self.source.splitlines(keepends=True),
                                            fromfile=f"{name} (Python 2)", tofile=f"{name} (modernised)"))


def summary_line(changes: tuple[Change, ...] | list[Change]) -> str:
    counts = Counter(c.kind for c in changes).most_common()
    kinds = ", ".join(f"{kind} ×{n}" for kind, n in counts)
    return f"modernised from Python 2: {len(changes)} change{'s' if len(changes) != 1 else ''} ({kinds})"


def _dedupe_imports(tree) -> None:
    """``import urllib.request, urllib.error, urllib.request`` (urllib + urllib2 merged) → each name once."""
    for node in tree.pre_order():
        if node.type == syms.import_name and node.children[1].type == syms.dotted_as_names:
            names = node.children[1]
            seen, keep = set(), []
            for item in names.children[::2]:
                if str(item).strip() not in seen:
                    seen.add(str(item).strip())
                    keep.append(item)
            if len(keep) < len(names.children[::2]):
                for child in list(names.children):
                    child.remove()
                for i, item in enumerate(keep):
                    if i:
                        names.append_child(Leaf(token.COMMA, ","))
                    item.prefix = " " if i else item.prefix
                    names.append_child(item)


def _line(text: str, number: int) -> str:
    lines = text.splitlines()
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


def _error_line(exc: Exception) -> int:
    if isinstance(exc, ParseError):
        return exc.context[1][0]
    if isinstance(exc, TokenError):
        return exc.args[1][0]
    return getattr(exc, "lineno", 0) or 0


def _blame_line(text: str, line: int) -> int:
    """The line to show for a parse error at ``line``: where the innermost bracket still open there was opened
    (an unclosed ``(`` makes the parser fail lines later), else ``line`` itself."""
    openers: list[int] = []
    try:
        for kind, value, start, _end, _text in generate_tokens(io.StringIO(text).readline):
            if start[0] >= line:
                break
            if kind == token.OP and value in "([{":
                openers.append(start[0])
            elif kind == token.OP and value in ")]}" and openers:
                openers.pop()
    except (TokenError, IndentationError):
        pass
    return openers[-1] if openers else line


def _original_line(original: str, source: str, number: int) -> int:
    """The line of the original that line ``number`` of the modernised text came from."""
    matcher = difflib.SequenceMatcher(None, original.splitlines(), source.splitlines(), autojunk=False)
    for _tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if j1 < number <= j2:
            return min(i1 + (number - j1), max(i2, i1 + 1))
    return number


def convert_source(text: str, path: Path | str = "<lambda>", encoding: str = "utf-8",
                   in_package: bool | None = None) -> Conversion:
    """Modernise Python 2 source text; ``path`` names it in messages (and, for a module inside a package,
    lets implicit relative imports be found). Raises LambdaError when the text is neither Python 3 nor
    convertible Python 2."""
    path = Path(path)
    if in_package is None:
        in_package = (path.parent / "__init__.py").is_file()
    expanded, tab_lines = expand_py2_tabs(text)
    newline = "" if expanded.endswith("\n") or not expanded else "\n"
    with tool_lock:
        tool = get_tool(bool(in_package))
        tool.recorded, tool.fixer_log[:] = [], []
        try:
            tree = tool.refactor_string(expanded + newline, str(path))
        except (ParseError, TokenError, SyntaxError) as exc:
            line = _blame_line(expanded, _error_line(exc))
            raise NotConvertibleError(f"{path}:{line}: this line is neither Python 3 nor Python 2 that can be "
                                      f"modernised: {_line(text, line)}", line) from None
        except Exception as exc:  # noqa: BLE001 - a construct the fixers do not handle: one clear error, not a crash
            raise NotConvertibleError(f"{path}: cannot modernise this Python 2 file ({type(exc).__name__}: {exc})",
                                      0) from exc
        changes = [Change("tabs", n) for n in tab_lines] + tool.recorded
        notes, imports = list(tool.fixer_log), []
        for fixer in tool.own_fixers():
            changes += fixer.changes
            notes += fixer.notes
            imports += fixer.imports
        add_imports(tree, imports)
        _dedupe_imports(tree)
    source = str(tree)
    source = source[: -len(newline)] if newline and source.endswith(newline) else source
    try:
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        line = _original_line(text, source, exc.lineno or 0)
        raise NotConvertibleError(f"{path}:{line}: modernised from Python 2, but this line is still not Python 3 "
                                  f"({exc.msg}): {_line(text, line)}", line) from None
    changes.sort(key=attrgetter("line"))
    return Conversion(path, text, source, encoding, tuple(changes), tuple(notes))


def convert_file(path: Path) -> Conversion:
    """Modernise one file (nothing is written). A Python 3 file (see ``detect``) comes back unchanged."""
    path = Path(path)
    text, encoding = read_source(path)
    if python2_reason(text, str(path)) is None:
        return Conversion(path, text, text, encoding, ())
    return convert_source(text, path, encoding)


def explain_syntax_error(path: Path, exc: SyntaxError) -> LambdaError | None:
    """For a Lambda file that does not compile as Python 3: None when it is Python 2 the simulator modernises
    when it loads; else the one-line error to report. A plain syntax error (Python 2 fails on the same line as
    Python 3) keeps Python 3's ``file:line:col: SyntaxError: message``; a Python 2 file that cannot be
    modernised names the first line that fails and its text."""
    try:
        convert_file(path)
    except NotConvertibleError as failure:
        if exc.lineno is not None and failure.line == exc.lineno:
            where = f"{exc.filename or path}:{exc.lineno}" + (f":{exc.offset}" if exc.offset else "")
            return LambdaError(f"{where}: {type(exc).__name__}: {exc.msg}",
                               hint="fix the Lambda file (it must be Python 3, or Python 2 the simulator modernises)")
        return failure
    return None
