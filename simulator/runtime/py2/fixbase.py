"""The base of the simulator's own Python 2 fixers: each records the changes it makes (kind, line, detail)
and asks for the imports it needs, added once the whole tree is fixed."""

from __future__ import annotations

from dataclasses import dataclass

from fissix.fixer_base import BaseFix
from fissix.fixer_util import touch_import
from fissix.pytree import Node

from simulator.runtime.py2.analysis import ModuleScopes

HELPERS = "simulator.runtime.py2.helpers"


@dataclass(frozen=True)
class Change:
    """One change made while modernising: its kind (``print``, ``division``, ...), the line in the original
    file and, for the changes that decide something (division, StringIO), what was decided."""

    kind: str
    line: int
    detail: str = ""


def scopes_of(tree: Node) -> ModuleScopes:
    """The scope analysis of the tree as parsed (computed once, before any fixer changes it)."""
    cached = getattr(tree, "_py2_scopes", None)
    if cached is None:
        cached = ModuleScopes(tree)
        tree._py2_scopes = cached
    return cached


class Py2Fix(BaseFix):
    """A fixer that runs on the tree as parsed (before the standard fixers) and reports what it changed."""

    label = ""
    BM_compatible = False
    order = "post"

    def start_tree(self, tree, filename) -> None:
        super().start_tree(tree, filename)
        self.changes: list[Change] = []
        self.notes: list[str] = []
        self.imports: list[tuple[str | None, str]] = []
        self.scopes = scopes_of(tree)

    def record(self, node, detail: str = "") -> None:
        self.changes.append(Change(self.label, node.get_lineno(), detail))

    def note(self, node, message: str) -> None:
        """Something left unchanged that may still behave differently under Python 3."""
        self.notes.append(f"line {node.get_lineno()}: {message}")

    def need_import(self, package: str | None, name: str) -> None:
        """Ask for ``import name`` (package None) or ``from package import name``; see ``add_imports``."""
        if (package, name) not in self.imports:
            self.imports.append((package, name))


def add_imports(tree, wanted: list[tuple[str | None, str]]) -> None:
    """Add the imports the fixers asked for, once the tree is fixed: the helpers in one statement."""
    for package, name in wanted:
        if package is None:
            touch_import(None, name, tree)
    helpers = sorted({name for package, name in wanted if package == HELPERS})
    if helpers:
        touch_import(HELPERS, ", ".join(helpers), tree)  # one leaf for several names: printed, never re-parsed
