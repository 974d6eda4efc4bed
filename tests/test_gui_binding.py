"""The pinned Qt binding keeps Python's reference counts intact.

PySide6-Essentials 6.12.0 on CPython 3.11 drops a reference to None on every void Qt call (and to True/False
in signals): a window painting 30 frames a second aborts within a minute ("deallocating None"). 6.11.3 does
not; requirements-gui.txt pins it. This test fails if the installed binding leaks.
"""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("PySide6")


def test_void_qt_calls_do_not_drop_references_to_none():
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(200):
        probe.setObjectName("refcount-probe")
    assert before - sys.getrefcount(None) < 50, "this PySide6 build drops references to None: pin 6.11.3"
