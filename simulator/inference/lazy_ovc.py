"""``import openvino`` without its model-conversion API; ``openvino.convert_model`` loads it on first use.

OpenVINO's package imports ``openvino.tools.ovc`` (the conversion API and its telemetry) every time it is imported:
about 150 ms of a start-up that runs IR files, which never need it. ``defer()`` — called first thing in a process,
before anything imports OpenVINO — makes that one import (the one in ``openvino/__init__.py``, which OpenVINO itself
wraps in ``try: ... except ImportError``) fail, and gives the package a module ``__getattr__`` (PEP 562) that
imports ``convert_model`` when it is first asked for. Every other import of ``openvino.tools.ovc`` works as usual.
"""

from __future__ import annotations

import sys
from typing import Any

PACKAGE, CONVERSION_API = "openvino", "openvino.tools.ovc"


def _convert_model_on_first_use(name: str) -> Any:
    if name == "convert_model":
        from openvino.tools.ovc import convert_model

        setattr(sys.modules[PACKAGE], "convert_model", convert_model)  # noqa: B010 - on the package, once
        return convert_model
    raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")


class _Deferral:
    """A ``sys.meta_path`` finder (importlib.abc is not imported for it: that alone costs ~30 ms) that refuses
    ``openvino.tools.ovc`` once, to the package's own ``__init__``, then leaves ``sys.meta_path``."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name != CONVERSION_API or not _imported_by_package_init():
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        package = sys.modules.get(PACKAGE)
        if package is None:  # not OpenVINO's __init__ after all: let the import go on
            return None
        package.__getattr__ = _convert_model_on_first_use  # type: ignore[method-assign]
        raise ImportError(f"{CONVERSION_API} is imported on the first use of openvino.convert_model")


def _imported_by_package_init() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == PACKAGE:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def defer() -> None:
    """Before OpenVINO is imported in this process: its conversion API comes on first use (a no-op afterwards)."""
    if PACKAGE in sys.modules or any(isinstance(f, _Deferral) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Deferral())
