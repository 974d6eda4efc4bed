"""The refactoring tool that modernises a file: fissix's standard 2to3 fixers after the simulator's own, each
change recorded with the line it is on."""

from __future__ import annotations

import functools
import importlib
import threading
from operator import attrgetter

from fissix.fixer_util import find_root
from fissix.fixes.fix_imports import MAPPING, FixImports
from fissix.refactor import RefactoringTool

from simulator.runtime.py2.fix_builtins import FixCmpBuiltin, FixFileBuiltin, FixRound, FixSortCmp
from simulator.runtime.py2.fix_division import FixDivision
from simulator.runtime.py2.fix_string import FixStringModule
from simulator.runtime.py2.fix_stringio import FixStringioBytes
from simulator.runtime.py2.fixbase import Change, Py2Fix

STOCK_FIXERS = (
    "apply", "asserts", "basestring", "dict", "except", "exec", "execfile", "exitfunc", "filter", "funcattrs",
    "getcwdu", "has_key", "imports2", "input", "intern", "itertools", "itertools_imports", "long", "map",
    "metaclass", "methodattrs", "ne", "next", "nonzero", "numliterals", "operator", "paren", "print", "raise",
    "raw_input", "reduce", "reload", "renames", "repr", "standarderror", "sys_exc", "throw", "tuple_params",
    "types", "unicode", "urllib", "xrange", "xreadlines", "zip",
)
OWN_FIXERS = (FixDivision, FixSortCmp, FixCmpBuiltin, FixRound, FixFileBuiltin, FixStringModule, FixStringioBytes)
LABELS = {"numliterals": "number literals", "repr": "backticks", "ne": "<>", "import": "relative import",
          "imports2": "imports", "tuple_params": "tuple parameters"}


class FixImportsPy2(FixImports):
    """The standard renamed-modules fixer, plus ``commands`` → ``subprocess`` (getoutput, getstatusoutput)."""

    label = "imports"
    mapping = {**MAPPING, "commands": "subprocess"}


def _label(fixer) -> str:
    label = getattr(fixer, "label", None)
    if label:
        return label
    name = type(fixer).__module__.rsplit(".", 1)[-1].removeprefix("fix_")
    return LABELS.get(name, name)


class ModernisingTool(RefactoringTool):
    """fissix's refactoring tool with the simulator's fixer set; every change is recorded."""

    def __init__(self, in_package: bool) -> None:
        self._classes = [*OWN_FIXERS, FixImportsPy2, *_stock_classes(in_package)]
        self.recorded: list[Change] = []
        super().__init__([])

    def get_fixers(self):
        pre: list = []
        post: list = []
        for cls in self._classes:
            fixer = cls(self.options, self.fixer_log)
            if not isinstance(fixer, Py2Fix):
                self._record(fixer)
            (pre if fixer.order == "pre" else post).append(fixer)
        return sorted(pre, key=attrgetter("run_order")), sorted(post, key=attrgetter("run_order"))

    def _record(self, fixer) -> None:
        transform, label = fixer.transform, _label(fixer)

        def recording(node, results):
            root = find_root(node)
            before, text = str(root), str(node)
            first = node.get_lineno() - node.prefix.count("\n")  # the line str(node) starts on
            new = transform(node, results)
            after = str(new) if new is not None else str(node)
            if after != text or str(root) != before:
                self.recorded.append(Change(label, first + _first_difference(text, after)))
            return new

        fixer.transform = recording

    def own_fixers(self) -> list[Py2Fix]:
        return [f for f in (*self.pre_order, *self.post_order) if isinstance(f, Py2Fix)]


def _first_difference(before: str, after: str) -> int:
    """Index of the first line that differs (0 when only something outside the text changed)."""
    pairs = zip(before.splitlines(), after.splitlines(), strict=False)
    return next((i for i, (a, b) in enumerate(pairs) if a != b), 0)


def _stock_classes(in_package: bool) -> list[type]:
    names = [*STOCK_FIXERS, "import"] if in_package else list(STOCK_FIXERS)
    classes = []
    for name in names:
        module = importlib.import_module(f"fissix.fixes.fix_{name}")
        classes.append(getattr(module, "Fix" + "".join(p.title() for p in name.split("_"))))
    return classes


@functools.lru_cache(maxsize=2)
def tool(in_package: bool) -> ModernisingTool:
    """The shared tool (with the relative-import fixer for a module inside a package); use it under ``lock``."""
    return ModernisingTool(in_package)


lock = threading.Lock()  # a tool's fixers keep per-tree state
