"""All Qt lives in gui/: nothing else imports PySide6, so the headless (Pi) install runs the core without Qt."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache"}
QT_MODULES = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "PySide2")


def python_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if SKIP_DIRS.intersection(rel.parts[:-1]) or (rel.parts[0] == "gui"):
            continue
        if rel.parts[0] == "tests" and rel.name.startswith("test_gui"):
            continue
        if rel.parts[:3] == ("tests", "lambdas", "py2"):  # Python 2 Lambdas: not Python 3 by design
            continue
        files.append(path)
    return files


def qt_imports(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: module`` for each Qt import (plain, from-, importlib.import_module / __import__)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__", "importorskip") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        found += [f"{path.relative_to(root)}:{node.lineno}: {n}" for n in names
                  if n.split(".")[0] in QT_MODULES]
    return found


def test_nothing_outside_gui_imports_qt():
    files = python_files()
    assert any(f.relative_to(ROOT).parts[0] == "simulator" for f in files)  # the scan sees the core
    offenders = [hit for f in files for hit in qt_imports(f)]
    assert offenders == [], "Qt imported outside gui/:\n" + "\n".join(offenders)


def test_the_scan_would_catch_an_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom PySide6.QtWidgets import QWidget\nimportlib.import_module('shiboken6')\n")
    assert qt_imports(probe, tmp_path) == ["probe.py:2: PySide6.QtWidgets", "probe.py:3: shiboken6"]
