"""Headless mode: the simulated device plus the web viewer, until Ctrl-C or ``--duration`` runs out."""

from __future__ import annotations

import logging
import signal
import threading
import time

from simulator.config import RunConfig
from simulator.core import SimulatedDevice
from simulator.viewer.server import ViewerServer

log = logging.getLogger(__name__)


STATUS_EVERY = 10.0


def _next_wait(deadline: float | None) -> float:
    if deadline is None:
        return STATUS_EVERY
    return max(0.0, min(STATUS_EVERY, deadline - time.monotonic()))


def summarize(status: dict) -> str:
    """One log line: camera and inference rates, host vs predicted latency, Lambda state, messages."""
    inf, cam, lam = status.get("inference") or {}, status.get("camera") or {}, status.get("lambda") or {}
    pacing = inf.get("pacing") or {}
    latency = f"host {inf['host_ms']:.1f} ms" if inf.get("host_ms") is not None else "no inference yet"
    if inf.get("predicted_ms") is not None:
        latency += f", predicted {inf['predicted_ms']:.1f} ms on {status['profile']}"
    parts = [f"camera {cam.get('fps', 0):.1f} fps", f"inference {inf.get('fps', 0):.1f} fps", latency]
    if pacing.get("host_too_slow"):
        parts.append(pacing.get("status", "host too slow"))
    if lam:
        parts.append(f"lambda {lam['state']} ({lam['restarts']} restarts)")
    parts.append(f"{status.get('messages', 0)} messages")
    return ", ".join(parts)


def run_headless(config: RunConfig, duration: float | None = None) -> int:
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    device = SimulatedDevice(config)
    viewer = None
    previous: dict = {}
    try:
        device.start()  # Ctrl-C here raises KeyboardInterrupt; start() has cleaned up by then
        viewer = ViewerServer(device, config.http_host, config.http_port).start()
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        s = device.status()
        print(f"DeepLens simulator running as thing {device.thing_name} (profile {s['profile']})", flush=True)
        print(f"  viewer:  {viewer.url}", flush=True)
        print(f"  MQTT:    {device.mqtt_host}:{device.mqtt_port}  topic {device.infer_topic}", flush=True)
        print(f"  source:  {s['source']}   project: {s['project']}", flush=True)
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.wait(_next_wait(deadline)):
            if deadline is not None and time.monotonic() >= deadline:
                break
            log.info("status: %s", summarize(device.status()))
    finally:
        if viewer is not None:
            viewer.stop()
        device.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
