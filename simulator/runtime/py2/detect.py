"""Is a source file Python 2? It is when it does not compile as Python 3 — or when it compiles but uses
what only Python 2 had, so importing it would fail or behave differently:

- it imports a module only Python 2 had (``StringIO``, ``cStringIO``, ``urllib2``, ``commands``, ``Queue``,
  ``cPickle``, ``ConfigParser``, ``httplib``, ``urlparse``, ...), or uses ``urllib.urlopen/urlencode/
  urlretrieve/quote/unquote`` or ``string.letters/join/atoi/...``;
- it calls ``.iteritems()/.itervalues()/.iterkeys()/.has_key()``, or ``sorted``/``.sort`` with ``cmp=``;
- inside a package, it imports a sibling module by its bare name (an implicit relative import);
- it uses a builtin only Python 2 had (``xrange``, ``raw_input``, ``unicode``, ``basestring``, ``long``,
  ``unichr``, ``execfile``, ``cmp``, ``file``) without defining that name itself.

A file that is valid Python 3 and shows none of these is run as it is (its ``/`` is Python 3's).
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

from fissix.fixes.fix_imports import MAPPING

from simulator.errors import LambdaError

PY2_MODULES = frozenset(MAPPING) | {"urllib2", "commands", "sets", "md5", "sha", "exceptions", "new"}
PY2_BUILTINS = frozenset({"xrange", "raw_input", "unicode", "basestring", "long", "unichr", "execfile", "cmp",
                          "file"})
PY2_METHODS = frozenset({"iteritems", "itervalues", "iterkeys", "has_key"})
PY2_URLLIB = frozenset({"urlopen", "urlencode", "urlretrieve", "quote", "unquote", "quote_plus", "unquote_plus"})
PY2_STRING = frozenset({"letters", "lowercase", "uppercase", "maketrans", "join", "joinfields", "split",
                        "splitfields", "atoi", "atol", "atof", "upper", "lower", "strip", "replace", "find"})


def _defined(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def _sibling(folder: Path | None, name: str) -> bool:
    """A module ``name`` beside a file of a package (what Python 2's implicit relative import found)."""
    return folder is not None and (folder / "__init__.py").is_file() and (
        (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file())


def python2_usage(tree: ast.AST, folder: Path | None = None) -> tuple[int, str] | None:
    """(line, what) of the first Python-2-only use in a module that compiles as Python 3, or None.
    ``folder`` is the module's folder (to see implicit relative imports inside a package)."""
    defined = _defined(tree)
    modules = {(a.asname or a.name) for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            found += [(line, f"import {a.name}") for a in node.names
                      if a.name.split(".")[0] in PY2_MODULES or _sibling(folder, a.name.split(".")[0])]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module.split(".")[0] in PY2_MODULES or _sibling(folder, node.module.split(".")[0])):
            found.append((line, f"from {node.module} import ..."))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = node.value.id
            py2_attrs = {"urllib": PY2_URLLIB, "string": PY2_STRING}.get(owner, frozenset())
            if owner in modules and node.attr in py2_attrs:
                found.append((line, f"{owner}.{node.attr}"))
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in PY2_METHODS:
                found.append((line, f".{func.attr}()"))
            if any(k.arg == "cmp" for k in node.keywords) and (
                    (isinstance(func, ast.Name) and func.id == "sorted")
                    or (isinstance(func, ast.Attribute) and func.attr == "sort")):
                found.append((line, "sort with cmp="))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in PY2_BUILTINS \
                and node.id not in defined:
            found.append((line, node.id))
    return min(found) if found else None


def python2_reason(text: str, filename: str = "<lambda>") -> str | None:
    """Why ``text`` needs modernising (None when it is Python 3)."""
    try:
        tree = compile(text, filename, "exec", ast.PyCF_ONLY_AST)
    except SyntaxError as exc:
        return f"not Python 3 (line {exc.lineno}: {exc.msg})"
    except ValueError as exc:
        return f"not Python 3 ({exc})"
    usage = python2_usage(tree, Path(filename).parent if filename != "<lambda>" else None)
    return f"uses Python 2 only: {usage[1]} (line {usage[0]})" if usage else None


def read_source(path: Path) -> tuple[str, str]:
    """(text, encoding) of a source file, honouring its coding declaration as Python does."""
    try:
        data = Path(path).read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding), encoding
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        raise LambdaError(f"cannot read {path}: {exc}") from None
