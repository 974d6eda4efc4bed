"""A guard against PySide6 builds that drop references to None, True and False on CPython 3.11.

PySide6-Essentials 6.12.0 (its ``cp310-abi3`` wheel) returns ``None`` from every void method — ``setText``,
``update``, ``setEnabled``, every ``QPainter`` call — and hands ``True``/``False`` to Python without the reference
the caller later releases. On CPython 3.12+ those objects are immortal and nothing happens; on 3.11 each call
lowers their reference count by one, and a window painting 30 frames a second reaches zero within a minute:
the interpreter aborts with "none_dealloc: deallocating None". 6.11.3 does not do this.

``ensure()`` probes the installed binding once; when it leaks, it adds a very large number to the three
reference counts (they are never freed anyway), which no run can drain. Elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import sys

log = logging.getLogger(__name__)

TOP_UP = 1 << 40  # ~10^12: at ~1000 leaked references a second this lasts decades
PROBE_CALLS = 200

_state: dict[str, bool] = {}


def binding_leaks() -> bool:
    """True if a void Qt call drops a reference to None (measured, not guessed from version numbers)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("refcount-probe")
    return before - sys.getrefcount(None) >= PROBE_CALLS // 2


def _add_references(obj: object, count: int) -> bool:
    before = sys.getrefcount(obj)
    field = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt leads every object in a release build
    if field.value not in range(before - 8, before + 8):
        return False  # not the layout assumed (debug build?): leave it alone
    field.value += count
    return True


def ensure() -> bool:
    """Protect None/True/False if the binding needs it. Returns True when the guard is active."""
    if "active" in _state:
        return _state["active"]
    active = False
    if sys.version_info < (3, 12) and platform.python_implementation() == "CPython" and binding_leaks():
        active = all(_add_references(obj, TOP_UP) for obj in (None, True, False))
        log.warning("this PySide6 build drops references to None/True/False on Python %d.%d%s; "
                    "use PySide6-Essentials 6.11.3 or Python 3.12+", *sys.version_info[:2],
                    " (guarded)" if active else " and could not be guarded: the window may crash")
    _state["active"] = active
    return active
