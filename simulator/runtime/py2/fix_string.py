"""The ``string`` module's Python 2 functions and constants, as Python 3 spells them.

``string.letters/lowercase/uppercase`` → ``string.ascii_*``; ``string.maketrans`` → ``str.maketrans``;
``string.join(words[, sep])`` → ``sep.join(words)`` (``" "`` by default); ``string.atoi/atol/atof(s)`` →
``int/int/float(s)``; ``string.F(s, *rest)`` → ``s.F(*rest)`` for the functions that became ``str`` methods
(``split``, ``replace``, ``upper``, ``strip``, ``find``, ...). Applies only in a module that imports ``string``.
"""

from __future__ import annotations

from fissix.fixer_util import ArgList, Comma, Dot, Name, String, does_tree_import, parenthesize
from fissix.pgen2 import token
from fissix.pygram import python_symbols as syms
from fissix.pytree import Node

from simulator.runtime.py2.fix_builtins import split_args
from simulator.runtime.py2.fixbase import Py2Fix

CONSTANTS = {"letters": "ascii_letters", "lowercase": "ascii_lowercase", "uppercase": "ascii_uppercase"}
CONVERSIONS = {"atoi": "int", "atol": "int", "atof": "float"}
METHODS = {name: name for name in (
    "capitalize", "center", "count", "expandtabs", "find", "index", "ljust", "lower", "lstrip", "replace",
    "rfind", "rindex", "rjust", "rsplit", "rstrip", "split", "strip", "swapcase", "upper")}
METHODS["splitfields"] = "split"
JOINS = ("join", "joinfields")
ATOMIC = (token.NAME, token.STRING, syms.power, syms.atom)


def _receiver(node):
    node = node.clone()
    node.prefix = ""
    return node if node.type in ATOMIC else parenthesize(node)


def _args(nodes) -> list:
    items: list = []
    for i, n in enumerate(nodes):
        n = n.clone()
        n.prefix = "" if i == 0 else " "
        items += [Comma(), n] if i else [n]
    return items


class FixStringModule(Py2Fix):
    label = "string"

    def start_tree(self, tree, filename) -> None:
        super().start_tree(tree, filename)
        self.active = does_tree_import(None, "string", tree)

    def match(self, node) -> bool:
        if not self.active or node.type != syms.power or len(node.children) < 2:
            return False
        first, attr = node.children[0], node.children[1]
        return (first.type == token.NAME and first.value == "string" and attr.type == syms.trailer
                and attr.children[0].value == ".")

    def transform(self, node, results):
        attr = node.children[1].children[1]
        call = node.children[2] if len(node.children) > 2 else None
        is_call = call is not None and call.children[0].value == "("
        if attr.value in CONSTANTS:
            attr.value = CONSTANTS[attr.value]
            attr.changed()
            self.record(node)
            return None
        if attr.value == "maketrans":
            node.children[0].value = "str"
            node.children[0].changed()
            self.record(node)
            return None
        if call is None or not is_call or attr.value not in (*JOINS, *CONVERSIONS, *METHODS):
            return None
        split = split_args(call)
        if split is None or split[1] or not split[0]:
            self.note(node, f"string.{attr.value}(...) with keyword or star arguments left unchanged")
            return None
        args, rest = split[0], node.children[3:]
        if attr.value in CONVERSIONS:
            head = [Name(CONVERSIONS[attr.value]), call.clone()]
        elif attr.value in JOINS:
            sep = _receiver(args[1]) if len(args) > 1 else String('" "')
            head = [sep, Node(syms.trailer, [Dot(), Name("join")]), ArgList(_args(args[:1]))]
        else:
            head = [_receiver(args[0]), Node(syms.trailer, [Dot(), Name(METHODS[attr.value])]),
                    ArgList(_args(args[1:]))]
        self.record(node)
        return Node(syms.power, head + [r.clone() for r in rest], prefix=node.prefix)
