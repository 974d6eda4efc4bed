"""Python 2 builtins Python 3 changed or removed, and the ``cmp=`` argument of sorting.

- ``sorted(xs, cmp=f)``, ``sorted(xs, f)``, ``xs.sort(cmp=f)`` → ``key=functools.cmp_to_key(f)``. A positional
  argument of ``.sort(f)`` is taken for Python 2's ``cmp`` only when it is a two-argument lambda, a function
  of the module taking two arguments, or ``cmp`` itself (``ndarray.sort(0)`` is an axis, not a ``cmp``).
- ``cmp(a, b)`` → the helpers' ``cmp`` (imported).
- ``round(x)`` → ``old_round(x)``: Python 2 returned a float and rounded halves away from zero, so a Lambda's
  ``json.dumps({'n': round(x)})`` gives ``3.0`` as it did, not ``3``.
- ``file(...)`` → ``open(...)``.

None of them applies when the module binds the name itself.
"""

from __future__ import annotations

from fissix.fixer_util import Comma, Dot, KeywordArg, LParen, Name, RParen
from fissix.pgen2 import token
from fissix.pygram import python_symbols as syms
from fissix.pytree import Leaf, Node

from simulator.runtime.py2.fixbase import HELPERS, Py2Fix

SORT_ARGS = ("cmp", "key", "reverse")


def split_args(trailer) -> tuple[list, list[tuple[str, object]]] | None:
    """(positional nodes, [(keyword, value node)]) of a call trailer; None with ``*args``/``**kwargs``."""
    if len(trailer.children) == 2:
        return [], []
    inner = trailer.children[1]
    items = inner.children[::2] if inner.type == syms.arglist else [inner]
    positional, keywords = [], []
    for item in items:
        if item.type == syms.argument:
            if len(item.children) != 3 or item.children[1].value != "=":
                return None
            keywords.append((item.children[0].value, item.children[2]))
        elif item.type == syms.star_expr or (isinstance(item, Leaf) and item.value in ("*", "**")):
            return None
        else:
            positional.append(item)
    return positional, keywords


def _param_count(varargs) -> int | None:
    names = [c for c in (varargs.children if isinstance(varargs, Node) else [varargs])
             if c.type == token.NAME or c.type in (syms.tname, syms.vname)]
    plain = isinstance(varargs, Leaf) or all(
        not (isinstance(c, Leaf) and c.value in ("=", "*", "**")) for c in varargs.children)
    return len(names) if plain else None


class FixSortCmp(Py2Fix):
    label = "sort cmp"

    def _two_arg_functions(self) -> set[str]:
        found = set()
        for node in self.scopes.module.node.pre_order():
            if node.type == syms.funcdef:
                params = node.children[2].children
                if len(params) == 3 and _param_count(params[1]) == 2:
                    found.add(node.children[1].value)
        return found

    def start_tree(self, tree, filename) -> None:
        super().start_tree(tree, filename)
        self.two_arg = self._two_arg_functions()

    def _looks_like_cmp(self, node) -> bool:
        if node.type == token.NAME:
            return node.value in self.two_arg or (node.value == "cmp" and not self.scopes.bound_anywhere("cmp"))
        return node.type == syms.lambdef and len(node.children) == 4 and _param_count(node.children[1]) == 2

    def match(self, node) -> bool:
        if node.type != syms.trailer or node.children[0].value != "(" or node.prev_sibling is None:
            return False
        before = node.prev_sibling
        if before.type == token.NAME and before.value == "sorted":
            return before is node.parent.children[0] and not self.scopes.bound_anywhere("sorted")
        return before.type == syms.trailer and before.children[0].value == "." and before.children[1].value == "sort"

    def transform(self, node, results):
        split = split_args(node)
        if split is None:
            return None
        positional, keywords = split
        is_sorted = node.prev_sibling.type == token.NAME
        head, extra = (positional[:1], positional[1:]) if is_sorted else ([], positional)
        named = dict(zip(SORT_ARGS, extra, strict=False))
        if not is_sorted and "cmp" in named and not self._looks_like_cmp(named["cmp"]):
            return None
        named.update(keywords)
        if "cmp" not in named or len(extra) > len(SORT_ARGS):
            return None
        if "key" in named:
            self.note(node, "sort with both cmp= and key= left unchanged")
            return None
        cmp_func = named.pop("cmp").clone()
        cmp_func.prefix = ""
        to_key = Node(syms.power, [Name("functools"), Node(syms.trailer, [Dot(), Name("cmp_to_key")]),
                                   Node(syms.trailer, [LParen(), cmp_func, RParen()])])
        args = [h.clone() for h in head] + [KeywordArg(Name("key"), to_key)]
        args += [KeywordArg(Name(k), v.clone()) for k, v in named.items()]
        items: list = []
        for i, arg in enumerate(args):
            arg.prefix = "" if i == 0 else " "
            items += [Comma(), arg] if i else [arg]
        inner = items[0] if len(items) == 1 else Node(syms.arglist, items)
        self.record(node)
        self.need_import(None, "functools")
        return Node(syms.trailer, [LParen(), inner, RParen()], prefix=node.prefix)


class _RenameBuiltin(Py2Fix):
    """Calls of a builtin the module does not bind itself."""

    old = ""

    def match(self, node) -> bool:
        if node.type != syms.power or len(node.children) < 2:
            return False
        name, call = node.children[0], node.children[1]
        return (name.type == token.NAME and name.value == self.old and call.type == syms.trailer
                and call.children[0].value == "(" and not self.scopes.bound_anywhere(self.old))


class FixCmpBuiltin(_RenameBuiltin):
    label = "cmp"
    old = "cmp"

    def transform(self, node, results):
        self.record(node)
        self.need_import(HELPERS, "cmp")


class FixRound(_RenameBuiltin):
    label = "round"
    old = "round"

    def transform(self, node, results):
        name = node.children[0]
        name.value = "old_round"
        name.changed()
        self.record(node)
        self.need_import(HELPERS, "old_round")


class FixFileBuiltin(_RenameBuiltin):
    label = "file"
    old = "file"

    def transform(self, node, results):
        name = node.children[0]
        name.value = "open"
        name.changed()
        self.record(node)
