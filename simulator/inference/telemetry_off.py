"""OpenVINO's model conversion reports its use to Google Analytics (and writes ``~/intel/openvino_ga_cid``) unless
the user opted out with ``opt_in_out --opt_out``. The simulator converts the bundled models as part of running,
not as a user of OpenVINO's tools, and runs offline Lambdas whose downloads it intercepts: it turns that reporting
off in its own process. The user's own setting (a file in ``~/intel``) is neither read nor changed.

OpenVINO's conversion API falls back to a no-op ``telemetry_stub`` when ``import openvino_telemetry`` fails, and
it is imported with ``openvino`` itself (which then reports the import). ``simulator/__init__.py`` makes that
import fail in every process that imports the simulator before OpenVINO; where OpenVINO came first, the modules of
the API already imported get the stub in place of the package before a conversion.
"""

from __future__ import annotations

import sys
import types

TELEMETRY = "openvino_telemetry"


def conversion_telemetry_off() -> None:
    """Before ``openvino.convert_model``: its usage reports go nowhere in this process. Cheap; call it freely."""
    if TELEMETRY not in sys.modules:
        sys.modules[TELEMETRY] = None  # type: ignore[assignment]  # "import openvino_telemetry" raises ImportError
    for name, module in list(sys.modules.items()):
        if not name.startswith("openvino.tools.") or module is None:
            continue
        tm = getattr(module, "tm", None)
        if isinstance(tm, types.ModuleType) and tm.__name__ == TELEMETRY:
            from openvino.tools.ovc import telemetry_stub

            module.tm = telemetry_stub  # type: ignore[attr-defined]
