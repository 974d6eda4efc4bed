"""A fleet device: a ``SimulatedDevice`` whose camera plays a given ``Source`` (the fleet's shared decoder)."""

from __future__ import annotations

from simulator.camera.base import Source
from simulator.config import RunConfig
from simulator.core import SimulatedDevice


def new_device(config: RunConfig, source: Source) -> SimulatedDevice:
    """A (not yet started) device of ``config`` whose camera reads ``source``."""
    return SimulatedDevice(config, source=source)
