"""``StringIO``/``cStringIO`` buffers that carry bytes become ``io.BytesIO``; the others stay text.

Python 2's ``StringIO.StringIO`` held either text or bytes; Python 3 needs to know. A buffer made with
``StringIO.StringIO(...)``, ``cStringIO.StringIO(...)`` or a ``StringIO(...)`` imported from either becomes
``io.BytesIO(...)`` when, decided by use in its own scope:

- its initial value produces bytes: a ``b'...'`` literal, ``x.tostring()``, ``x.tobytes()``, ``x.read(...)``,
  ``x.content``, ``base64.b64decode(...)``, ``bytes(...)``/``bytearray(...)``, ``cv2.imencode(...)[1]``, or a
  name assigned only such values; or
- it is passed to a consumer of binary files: PIL's ``Image.open(buf)`` and ``image.save(buf, ...)``,
  ``numpy.save/load``, boto3's ``upload_fileobj``/``download_fileobj`` or ``put_object(Body=buf)``,
  ``zipfile.ZipFile``, ``gzip.GzipFile``, anything given it as ``fileobj=`` / ``Fileobj=``; or
- it is bound to a name that is later so passed, or given ``.write(...)`` of a bytes-producing value.

Every other buffer stays ``io.StringIO`` (the standard ``imports`` fixer renames the module).
"""

from __future__ import annotations

from fissix.fixer_util import Dot, Name
from fissix.pgen2 import token
from fissix.pygram import python_symbols as syms
from fissix.pytree import Leaf, Node

from simulator.runtime.py2.fix_builtins import split_args
from simulator.runtime.py2.fixbase import Py2Fix

MODULES = ("StringIO", "cStringIO")
BYTES_METHODS = {"tostring", "tobytes", "read", "recv"}
BYTES_CALLS = {"b64decode", "standard_b64decode", "urlsafe_b64decode", "decodestring", "bytes", "bytearray"}
BINARY_CALLS = {"upload_fileobj", "download_fileobj", "ZipFile", "GzipFile"}
BINARY_KEYWORDS = {"Body", "fileobj", "Fileobj"}


def _chain(power) -> list[str]:
    """``['cv2', '.imencode', '()', '[]']`` for ``cv2.imencode(...)[1]``."""
    parts = []
    for child in power.children:
        if isinstance(child, Leaf):
            parts.append(child.value)
        elif child.type == syms.trailer:
            opener = child.children[0].value
            parts.append("." + child.children[1].value if opener == "." else opener + child.children[-1].value)
        else:
            parts.append("?")
    return parts


def _is_bytes_value(node) -> bool:
    if node.type == token.STRING:
        return node.value[:1] in "bB"
    if node.type != syms.power:
        return False
    parts = _chain(node)
    if parts[-1] == "()" and len(parts) >= 2 and parts[-2].lstrip(".") in BYTES_METHODS | BYTES_CALLS:
        return True
    if parts[-1] == ".content":
        return True
    return ".imencode" in parts and parts[-1] == "[]" and str(node.children[-1].children[1]).strip() == "1"


def _call_context(node) -> tuple[Node, str, int | str] | None:
    """(the call's power node, callee text, positional index or keyword) when ``node`` is a call argument."""
    parent = node.parent
    keyword: str | None = None
    if parent is not None and parent.type == syms.argument and len(parent.children) == 3 \
            and parent.children[1].value == "=" and parent.children[2] is node:
        keyword, node, parent = parent.children[0].value, parent, parent.parent
    position = 0
    if parent is not None and parent.type == syms.arglist:
        position = parent.children.index(node) // 2
        node, parent = parent, parent.parent
    if parent is None or parent.type != syms.trailer or parent.children[0].value != "(":
        return None
    power = parent.parent
    index = power.children.index(parent)
    callee = "".join(str(c).strip() for c in power.children[:index])
    return power, callee, keyword if keyword is not None else position


def _is_binary_consumer(node) -> bool:
    context = _call_context(node)
    if context is None:
        return False
    _, callee, where = context
    last = callee.rsplit(".", 1)[-1]
    if where in BINARY_KEYWORDS or last in BINARY_CALLS:
        return True
    if callee.endswith("Image.open") or callee in ("np.load", "numpy.load"):
        return True
    return last == "save" and where == 0


class FixStringioBytes(Py2Fix):
    label = "StringIO→BytesIO"

    def start_tree(self, tree, filename) -> None:
        super().start_tree(tree, filename)
        self.modules: set[str] = set()  # local names of the StringIO / cStringIO modules
        self.classes: set[str] = set()  # local names of their StringIO class
        for node in tree.pre_order():
            if node.type == syms.import_name:
                for name, alias in _imported(node.children[1]):
                    if name in MODULES:
                        self.modules.add(alias)
            elif node.type == syms.import_from and str(node.children[1]).strip() in MODULES:
                for name, alias in [pair for child in node.children[3:] for pair in _imported(child)]:
                    if name == "StringIO":
                        self.classes.add(alias)
        self.binary = {(c.get_lineno(), _column(c)) for c in tree.pre_order() if self._is_ctor(c)
                       and self._carries_bytes(c)}

    def _is_ctor(self, node) -> bool:
        if node.type != syms.power or not node.children or node.children[0].type != token.NAME:
            return False
        parts = _chain(node)
        if parts[0] in self.modules and parts[1:3] == [".StringIO", "()"]:
            return len(parts) == 3
        return parts[0] in self.classes and parts[1:] == ["()"]

    def _carries_bytes(self, ctor) -> bool:
        split = split_args(ctor.children[-1])
        if split and split[0] and self._bytes_expr(split[0][0], ctor):
            return True
        if _is_binary_consumer(ctor):
            return True
        parent = ctor.parent
        if not (parent.type == syms.expr_stmt and len(parent.children) == 3 and parent.children[2] is ctor
                and parent.children[1].value == "=" and parent.children[0].type == token.NAME):
            return False
        name = parent.children[0].value
        scope = self.scopes.scope_of(ctor)
        for leaf in self.scopes.module.node.leaves():
            if leaf.type == token.NAME and leaf.value == name and self.scopes.scope_of(leaf) is scope \
                    and self._binary_use(leaf, scope):
                return True
        return False

    def _bytes_expr(self, node, where) -> bool:
        if _is_bytes_value(node):
            return True
        if node.type != token.NAME:
            return False
        home = self.scopes.home(self.scopes.scope_of(where), node.value)
        values = home.bindings.get(node.value, []) if home is not None else []
        return bool(values) and all(isinstance(v, Node | Leaf) and _is_bytes_value(v) for v, _ in values)

    def _binary_use(self, leaf, scope) -> bool:
        if _is_binary_consumer(leaf):
            return True
        power = leaf.parent
        if power is None or power.type != syms.power or power.children[0] is not leaf or len(power.children) < 3:
            return False
        method, call = power.children[1], power.children[2]
        if method.type != syms.trailer or method.children[0].value != "." or method.children[1].value != "write":
            return False
        split = split_args(call)
        if split is None or not split[0]:
            return False
        return self._bytes_expr(split[0][0], leaf)

    def match(self, node) -> bool:
        return self._is_ctor(node) and (node.get_lineno(), _column(node)) in self.binary

    def transform(self, node, results):
        new = Node(syms.power, [Name("io"), Node(syms.trailer, [Dot(), Name("BytesIO")]), node.children[-1].clone()],
                   prefix=node.prefix)
        self.record(node, f"{str(node).strip()} → {str(new).strip()} (bytes flow through it)")
        self.need_import(None, "io")
        return new


def _column(node) -> int:
    leaf = node
    while not isinstance(leaf, Leaf):
        leaf = leaf.children[0]
    return leaf.column


def _imported(node) -> list[tuple[str, str]]:
    """(name, local alias) pairs of ``a, b as c`` / ``a.b`` in an import statement."""
    if isinstance(node, Leaf):
        return [(node.value, node.value)] if node.type == token.NAME else []
    if node.type in (syms.dotted_as_name, syms.import_as_name):
        return [(str(node.children[0]).strip(), node.children[2].value)]
    if node.type == syms.dotted_name:
        text = str(node).strip()
        return [(text, text.split(".")[0])]
    return [pair for child in node.children for pair in _imported(child)]
