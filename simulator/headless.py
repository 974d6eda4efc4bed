"""Headless mode: the simulated device plus the web viewer, until Ctrl-C or ``--duration`` runs out."""

from __future__ import annotations

import logging
import signal
import threading

from simulator.config import RunConfig
from simulator.core import SimulatedDevice
from simulator.viewer.server import ViewerServer

log = logging.getLogger(__name__)


def run_headless(config: RunConfig, duration: float | None = None) -> int:
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    device = SimulatedDevice(config)
    viewer = None
    try:
        device.start()
        viewer = ViewerServer(device, config.http_host, config.http_port).start()
        s = device.status()
        print(f"DeepLens simulator running as thing {device.thing_name} (profile {s['profile']})", flush=True)
        print(f"  viewer:  {viewer.url}", flush=True)
        print(f"  MQTT:    {device.mqtt_host}:{device.mqtt_port}  topic {device.infer_topic}", flush=True)
        print(f"  source:  {s['source']}   project: {s['project']}", flush=True)
        stop.wait(duration)
    finally:
        if viewer is not None:
            viewer.stop()
        device.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
