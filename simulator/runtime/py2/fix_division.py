"""Python 2's ``/``: floor division of two ints, true division otherwise.

For each ``a / b`` (and ``a /= b``) of a module without ``from __future__ import division``:

- both operands provably ints (see ``analysis``) → ``a // b``;
- either operand provably a float → unchanged (true division in both Pythons);
- otherwise → ``old_div(a, b)``, which decides at run time exactly as Python 2 did.

Every changed expression is recorded with its line and the reason.
"""

from __future__ import annotations

from fissix.fixer_util import Call, Comma, Name
from fissix.pgen2 import token
from fissix.pygram import python_symbols as syms
from fissix.pytree import Leaf, Node

from simulator.runtime.py2.analysis import FLOAT, INT
from simulator.runtime.py2.fixbase import HELPERS, Py2Fix

BOTH_INT = "both int"
AT_RUN_TIME = "types known only at run time"


def _old_div(left, right, prefix: str) -> Node:
    left.prefix = ""
    right.prefix = " "
    return Call(Name("old_div"), [left, Comma(), right], prefix=prefix)


class FixDivision(Py2Fix):
    label = "division"

    def start_tree(self, tree, filename) -> None:
        super().start_tree(tree, filename)
        self.active = "division" not in getattr(tree, "future_features", ())

    def match(self, node) -> bool:
        if not self.active or isinstance(node, Leaf):
            return False
        if node.type == syms.term:
            return any(op.value == "/" for op in node.children[1::2])
        return (node.type == syms.expr_stmt and len(node.children) == 3 and isinstance(node.children[1], Leaf)
                and node.children[1].value == "/=")

    def transform(self, node, results):
        scope = self.scopes.scope_of(node)
        if node.type == syms.expr_stmt:
            new, reasons = self._augmented(node, scope)
        else:
            new, reasons = self._term(node, scope)
        if new is None:
            return None
        before, after = str(node).strip(), str(new).strip()
        self.record(node, f"{before} → {after} ({', '.join(reasons)})")
        if AT_RUN_TIME in reasons:
            self.need_import(HELPERS, "old_div")
        return new

    def _term(self, node, scope) -> tuple[Node | None, list[str]]:
        children = node.children
        pieces = [children[0].clone()]
        reasons: list[str] = []
        for op, operand in zip(children[1::2], children[2::2], strict=True):
            if op.value != "/":
                pieces += [op.clone(), operand.clone()]
                continue
            probe = pieces[0] if len(pieces) == 1 else Node(syms.term, [p.clone() for p in pieces])
            kinds = (self.scopes.kind(probe, scope), self.scopes.kind(operand, scope))
            if kinds == (INT, INT):
                pieces += [Leaf(token.DOUBLESLASH, "//", prefix=op.prefix), operand.clone()]
                reasons.append(BOTH_INT)
            elif FLOAT in kinds:
                pieces += [op.clone(), operand.clone()]
            else:
                prefix = pieces[0].prefix
                left = pieces[0] if len(pieces) == 1 else Node(syms.term, pieces)
                pieces = [_old_div(left, operand.clone(), prefix)]
                reasons.append(AT_RUN_TIME)
        if not reasons:
            return None, reasons
        new = pieces[0] if len(pieces) == 1 else Node(syms.term, pieces)
        new.prefix = node.prefix
        return new, sorted(set(reasons))

    def _augmented(self, node, scope) -> tuple[Node | None, list[str]]:
        target, op, value = node.children
        kinds = (self.scopes.kind(target, scope), self.scopes.kind(value, scope))
        if kinds == (INT, INT):
            return Node(syms.expr_stmt, [target.clone(), Leaf(token.DOUBLESLASHEQUAL, "//=", prefix=op.prefix),
                                         value.clone()], prefix=node.prefix), [BOTH_INT]
        if FLOAT in kinds:
            return None, []
        call = _old_div(target.clone(), value.clone(), value.prefix)
        return Node(syms.expr_stmt, [target.clone(), Leaf(token.EQUAL, "=", prefix=op.prefix), call],
                    prefix=node.prefix), [AT_RUN_TIME]
