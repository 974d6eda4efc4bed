"""The profile a run uses when none is named: on a Raspberry Pi the matching Pi profile (read from the device
tree, e.g. "Raspberry Pi 4 Model B Rev 1.4"), on anything else ``host``."""

from __future__ import annotations

import re
from pathlib import Path

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
_PI = re.compile(r"Raspberry Pi (\d+)")
KNOWN_PIS = {"4": "raspberry-pi-4", "5": "raspberry-pi-5"}


def default_profile(model_file: Path = DEVICE_TREE_MODEL) -> str:
    try:
        model = model_file.read_bytes().rstrip(b"\0").decode("ascii", "replace")
    except OSError:
        return "host"
    match = _PI.search(model)
    return KNOWN_PIS.get(match.group(1), "host") if match else "host"
