"""What a Python 2 module's names provably hold: ints, floats, or unknown — the ground for rewriting ``/``.

Scopes follow Python 2: a module, each function (and lambda), each class body; a name used in a function and
not bound there resolves to the enclosing functions, then the module (class bodies are skipped, ``global``
declarations send assignments to the module). A name is an int (a float) when *every* binding of it in its
scope is: an assignment of an int (float) expression, an augmented assignment keeping it so, or — for ints —
a ``for`` loop over ``range``/``xrange``. Anything else that binds it (a parameter, an import, a tuple
unpacking, ``with ... as``, ``except ... as``, a comprehension, a ``def``) makes it unknown. The solution is
the greatest fixed point, so ``i = 0`` … ``i = i + 1`` stays an int.

Expressions: int literals, ``len/int/long/ord/hash(...)``, ``x.shape[i]``, and ``+ - * / // % << >> & | ^ ~``
of ints are ints (``/`` of ints is an int in Python 2); float literals, ``float(...)``, ``round(...)``,
``math.floor/ceil/sqrt/...(...)`` and arithmetic with a float operand are floats.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from fissix.pgen2 import token
from fissix.pygram import python_symbols as syms
from fissix.pytree import Leaf, Node

INT, FLOAT = "int", "float"
_TOP = "top"  # not yet contradicted (fixed-point iteration only)
UNKNOWN = object()  # a binding nothing can be said about
RANGE_LOOP = object()  # the target of ``for i in range(...)``

INT_CALLS = frozenset({"len", "int", "long", "ord", "hash"})
FLOAT_CALLS = frozenset({"float", "round", "old_round"})
MATH_FLOATS = frozenset({"floor", "ceil", "sqrt", "exp", "log", "log10", "pow", "fabs", "fmod", "hypot", "sin", "cos",
                         "tan", "atan", "atan2", "radians", "degrees"})
SCOPE_TYPES = (syms.funcdef, syms.classdef, syms.lambdef, syms.old_lambdef, syms.file_input)
_ARITH = {"+", "-", "*", "/", "//", "%"}
_BITWISE = {"<<", ">>", "&", "|", "^"}
_INT_LITERAL = re.compile(r"0[xob][0-9a-f_]+l?|[0-9_]+l?")


@dataclass(eq=False)
class Scope:
    node: Node
    kind: str  # module | function | class
    parent: Scope | None
    bindings: dict[str, list[tuple[object, Scope]]] = field(default_factory=dict)  # (value, where evaluated)
    declared_global: set[str] = field(default_factory=set)


def _names(node) -> list[str]:
    if isinstance(node, Leaf):
        return [node.value] if node.type == token.NAME and not keyword.iskeyword(node.value) else []
    return [name for child in node.children for name in _names(child)]


def _globals_in(suite) -> set[str]:
    found: set[str] = set()
    stack = [suite]
    while stack:
        node = stack.pop()
        if isinstance(node, Leaf) or node.type in SCOPE_TYPES:
            continue
        if node.type == syms.global_stmt:
            found.update(leaf.value for leaf in node.children[1::2])
        stack.extend(node.children)
    return found


def bare_callee(node) -> str | None:
    """``name`` for ``name(...)`` (a bare call), else None."""
    if (node.type == syms.power and len(node.children) == 2 and node.children[0].type == token.NAME
            and node.children[1].type == syms.trailer and node.children[1].children[0].value == "("):
        return node.children[0].value
    return None


def _call_args(node) -> list:
    trailer = node.children[-1]
    if len(trailer.children) == 2:
        return []
    inner = trailer.children[1]
    return inner.children[::2] if inner.type == syms.arglist else [inner]


class ModuleScopes:
    """The scopes of one parsed module and the int/float kind of each of their names."""

    def __init__(self, tree: Node) -> None:
        self.module = Scope(tree, "module", None)
        self._by_node: dict[int, Scope] = {id(tree): self.module}
        self._all: list[Scope] = [self.module]
        self._walk(tree, self.module)
        self._kinds: dict[tuple[int, str], str | None] = {}
        self._solve()

    # --- building -------------------------------------------------------------------------------------------
    def _new(self, node, kind: str, parent: Scope) -> Scope:
        scope = Scope(node, kind, parent)
        self._by_node[id(node)] = scope
        self._all.append(scope)
        return scope

    def _bind(self, scope: Scope, name: str, value: object) -> None:
        home = self.module if scope.kind == "function" and name in scope.declared_global else scope
        home.bindings.setdefault(name, []).append((value, scope))

    def _bind_target(self, scope: Scope, target, value: object) -> None:
        if target.type == token.NAME:
            self._bind(scope, target.value, value)
        elif target.type in (syms.exprlist, syms.testlist_star_expr, syms.testlist_gexp, syms.atom,
                             syms.listmaker, syms.star_expr, syms.testlist):
            for name in _names(target):  # unpacking (names of subscripts/attributes are over-approximated)
                self._bind(scope, name, UNKNOWN)

    def _walk(self, node, scope: Scope) -> None:
        if isinstance(node, Leaf):
            return
        kind = node.type
        if kind == syms.funcdef:
            self._bind(scope, node.children[1].value, UNKNOWN)
            inner = self._new(node, "function", scope)
            inner.declared_global = _globals_in(node.children[-1])
            for name in _names(node.children[2]):
                inner.bindings.setdefault(name, []).append((UNKNOWN, inner))
            self._walk(node.children[-1], inner)
            return
        if kind == syms.classdef:
            self._bind(scope, node.children[1].value, UNKNOWN)
            inner = self._new(node, "class", scope)
            for child in node.children[2:]:
                self._walk(child, inner)
            return
        if kind in (syms.lambdef, syms.old_lambdef):
            inner = self._new(node, "function", scope)
            if len(node.children) == 4:
                for name in _names(node.children[1]):
                    inner.bindings.setdefault(name, []).append((UNKNOWN, inner))
            self._walk(node.children[-1], inner)
            return
        if kind == syms.expr_stmt:
            self._assignment(node, scope)
        elif kind in (syms.for_stmt, syms.comp_for):
            at = next(i for i, c in enumerate(node.children) if isinstance(c, Leaf) and c.value == "for")
            target, iterable = node.children[at + 1], node.children[at + 3]
            loop_int = kind == syms.for_stmt and bare_callee(iterable) in ("range", "xrange")
            if loop_int and target.type == token.NAME:
                self._bind(scope, target.value, RANGE_LOOP)
            else:
                for name in _names(target):
                    self._bind(scope, name, UNKNOWN)
        elif kind in (syms.import_name, syms.import_from):
            for name in _names(node):
                self._bind(scope, name, UNKNOWN)
        elif kind == syms.with_item or (kind == syms.except_clause and len(node.children) == 4):
            for name in _names(node.children[-1]):
                self._bind(scope, name, UNKNOWN)
        for child in node.children:
            self._walk(child, scope)

    def _assignment(self, node, scope: Scope) -> None:
        children = node.children
        if len(children) < 3:
            return
        op = children[1]
        if isinstance(op, Leaf) and op.value == "=":
            value = children[-1]
            for target in children[:-1:2]:
                self._bind_target(scope, target, value)
        elif isinstance(op, Leaf) and op.value.endswith("=") and children[0].type == token.NAME:
            self._bind(scope, children[0].value, ("aug", op.value[:-1], children[2]))
        elif children[0].type != token.NAME:
            return
        else:  # an annotated assignment (Python 3 syntax in a mixed file)
            self._bind(scope, children[0].value, UNKNOWN)

    # --- solving --------------------------------------------------------------------------------------------
    def _solve(self) -> None:
        for scope in self._all:
            for name, values in scope.bindings.items():
                if all(v is not UNKNOWN for v, _ in values):
                    self._kinds[(id(scope), name)] = _TOP
        changed = True
        while changed:
            changed = False
            for scope in self._all:
                for name, values in scope.bindings.items():
                    key = (id(scope), name)
                    if key not in self._kinds:
                        continue
                    new = _combine([self._binding_kind(v, origin, scope, name) for v, origin in values])
                    if new != self._kinds[key]:
                        self._kinds[key] = new
                        changed = True
        for key, value in self._kinds.items():
            if value == _TOP:
                self._kinds[key] = None

    def _binding_kind(self, value: object, origin: Scope, home: Scope, name: str) -> str | None:
        """The kind a binding gives ``name`` (held in ``home``), its value evaluated in ``origin``."""
        if value is RANGE_LOOP:
            return INT
        if isinstance(value, tuple):
            _, op, operand = value
            return _binary(op, self._kinds.get((id(home), name)), self.kind(operand, origin, final=False))
        return self.kind(value, origin, final=False)

    # --- queries --------------------------------------------------------------------------------------------
    def scope_of(self, node) -> Scope:
        """The innermost scope that contains ``node``."""
        current = node.parent
        while current is not None:
            scope = self._by_node.get(id(current))
            if scope is not None and current.type in SCOPE_TYPES:
                return scope
            current = current.parent
        return self.module

    def bound_anywhere(self, name: str) -> bool:
        return any(name in scope.bindings for scope in self._all)

    def home(self, scope: Scope, name: str) -> Scope | None:
        if scope.kind == "function" and name in scope.declared_global:
            return self.module
        current: Scope | None = scope
        while current is not None:
            if name in current.bindings and (current is scope or current.kind != "class"):
                return current
            current = current.parent
        return None

    def name_kind(self, name: str, scope: Scope, final: bool = True) -> str | None:
        home = self.home(scope, name)
        kind = self._kinds.get((id(home), name)) if home is not None else None
        return None if final and kind == _TOP else kind

    def kind(self, node, scope: Scope, final: bool = True) -> str | None:
        """INT, FLOAT or None (unknown) for an expression node of this module."""
        if isinstance(node, Leaf):
            if node.type == token.NUMBER:
                return _number_kind(node.value)
            if node.type == token.NAME:
                return self.name_kind(node.value, scope, final)
            return None
        kind, children = node.type, node.children
        if kind == syms.atom and children[0].value == "(" and len(children) == 3:
            return self.kind(children[1], scope, final)
        if kind == syms.factor:
            return self.kind(children[1], scope, final) if children[0].value in "+-~" else None
        if kind in (syms.term, syms.arith_expr, syms.shift_expr, syms.and_expr, syms.xor_expr, syms.expr):
            result = self.kind(children[0], scope, final)
            for op, operand in zip(children[1::2], children[2::2], strict=True):
                result = _binary(op.value, result, self.kind(operand, scope, final))
            return result
        if kind == syms.test and len(children) == 5:  # a if c else b
            return _combine([self.kind(children[0], scope, final), self.kind(children[4], scope, final)])
        if kind == syms.power:
            return self._power_kind(node, scope, final)
        return None

    def _power_kind(self, node, scope: Scope, final: bool) -> str | None:
        children = node.children
        if len(children) >= 2 and isinstance(children[-2], Leaf) and children[-2].value == "**":
            base = self.kind(Node(syms.power, [c.clone() for c in children[:-2]]) if len(children) > 3
                             else children[0], scope, final)
            exponent = self.kind(children[-1], scope, final)
            if FLOAT in (base, exponent):
                return FLOAT
            literal = children[-1].type == token.NUMBER and _number_kind(children[-1].value) == INT
            return INT if base == INT and literal else (_TOP if _TOP in (base, exponent) else None)
        callee = bare_callee(node)
        if callee is not None and self.home(scope, callee) is None:  # a builtin, not rebound
            args = _call_args(node)
            if callee in INT_CALLS:
                return INT
            if callee in FLOAT_CALLS:
                return FLOAT
            if callee in ("abs", "max", "min") and args and all(a.type != syms.argument for a in args):
                return _combine([self.kind(a, scope, final) for a in args])
            return None
        if (len(children) == 3 and children[0].type == token.NAME and children[0].value == "math"
                and self.home(scope, "math") is not None and children[1].children[0].value == "."
                and children[1].children[1].value in MATH_FLOATS and children[2].children[0].value == "("):
            return FLOAT  # Python 2's math.floor and math.ceil returned floats too
        last, before = children[-1], children[-2] if len(children) >= 2 else None
        if (before is not None and before.type == syms.trailer and before.children[0].value == "."
                and before.children[1].value == "shape" and last.type == syms.trailer
                and last.children[0].value == "[" and last.children[1].type != syms.subscript):
            return INT
        return None


def _number_kind(text: str) -> str:
    """INT for an integer literal (Python 2 octal ``0777`` and long ``10L`` included), else FLOAT."""
    return INT if _INT_LITERAL.fullmatch(text.lower()) else FLOAT  # complex: true division either way


def _combine(kinds: list[str | None]) -> str | None:
    """All bindings agree → that kind; any unknown or a mix → None (TOP entries are ignored)."""
    known = [k for k in kinds if k != _TOP]
    if any(k is None for k in known):
        return None
    if not known:
        return _TOP if kinds else None
    return known[0] if all(k == known[0] for k in known) else None


def _binary(op: str, left: str | None, right: str | None) -> str | None:
    if op == "%" and left is None:  # str % ... is formatting
        return None
    if op in _ARITH and FLOAT in (left, right):
        return FLOAT
    if (op not in _ARITH and op not in _BITWISE) or left is None or right is None:
        return None
    if _TOP in (left, right):
        return _TOP
    return INT if op in _ARITH or left == right == INT else None
