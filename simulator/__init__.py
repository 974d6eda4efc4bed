"""DeepLens simulator: runs unmodified AWS DeepLens inference Lambdas on any camera."""

import sys as _sys

__version__ = "0.1.0"

# OpenVINO's model-conversion API reports every ``import openvino`` and every conversion to Google Analytics unless
# the user opted out, and falls back to a no-op when its telemetry package cannot be imported: in the simulator's
# processes it cannot (see simulator/inference/telemetry_off.py; the user's own setting is left alone).
_sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
