"""Headless mode: the simulated device plus the web viewer, until Ctrl-C or ``--duration`` runs out."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from simulator import progress
from simulator.config import RunConfig
from simulator.core import SimulatedDevice
from simulator.errors import SimulatorError
from simulator.fleet.watcher import FleetWatcher
from simulator.network import viewer_tls
from simulator.service import Notifier
from simulator.status import DeviceStatus
from simulator.viewer.access import ViewerAccess
from simulator.viewer.server import ViewerServer

log = logging.getLogger(__name__)


STATUS_EVERY = 10.0


def summarize(status: DeviceStatus) -> str:
    """One log line: camera and inference rates, host vs predicted latency, Lambda state, messages."""
    inf, cam, lam = status.inference, status.camera, status.lambda_
    latency = f"host {inf.host_ms:.1f} ms" if inf.host_ms is not None else "no inference yet"
    if inf.predicted_ms is not None:
        latency += f", predicted {inf.predicted_ms:.1f} ms on {status.profile}"
    parts = [f"camera {cam.fps if cam else 0:.1f} fps", f"inference {inf.fps:.1f} fps", latency]
    if inf.pacing is not None and inf.pacing.host_too_slow:
        parts.append(inf.pacing.status)
    if lam is not None:
        parts.append(f"lambda {lam.state} ({lam.restarts} restarts)")
    parts.append(f"{status.messages} messages")
    return ", ".join(parts)


def _print_stage(stage: str, detail: str, percent: float | None) -> None:
    if stage != "downloading":  # downloads draw their own progress bar
        print(f"  … {stage}" + (f": {detail}" if detail else ""), file=sys.stderr, flush=True)


def run_headless(config: RunConfig, duration: float | None = None) -> int:
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    device = SimulatedDevice(config)
    fleet = FleetWatcher(device.new_link)  # the instructor's view of every device on this broker: /fleet
    viewer = None
    previous: dict = {}
    stop_printing = progress.listen(_print_stage)
    notifier = Notifier()  # systemd (main.py service install): READY once running, WATCHDOG while healthy
    try:
        # the page answers from the first second, showing what the device is busy with
        access = ViewerAccess.for_listen(config.http_host, extra_hosts=config.allow_hosts)
        viewer = ViewerServer(device, config.http_host, config.http_port, access=access,
                              tls=viewer_tls(config), fleet=fleet).start()
        print(f"DeepLens simulator starting as thing {device.thing_name} (profile {device.profile.name})", flush=True)
        print(f"  viewer:  {viewer.url}", flush=True)
        if not config.loopback:
            print(f"           (from another machine: {viewer.remote_url})", flush=True)
        device.start()  # Ctrl-C here raises KeyboardInterrupt; start() has cleaned up by then
        if device.info is not None:
            device.info.set_viewer(viewer.remote_url)  # the fleet page links to it from other machines
        try:
            fleet.start()
        except SimulatorError as exc:
            log.warning("fleet page: %s", exc.message)
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        s = device.status()
        print(f"  MQTT:    {device.mqtt_host}:{device.mqtt_port}  topic {device.infer_topic}", flush=True)
        print(f"  source:  {s.source}   project: {s.project}", flush=True)
        notifier.ready(f"running as {device.thing_name}")
        next_ping = time.monotonic()
        deadline = None if duration is None else time.monotonic() + duration
        next_status = time.monotonic() + STATUS_EVERY
        first_said = False
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if notifier.watchdog_every and now >= next_ping:
                next_ping = now + notifier.watchdog_every
                if device.healthy():
                    notifier.watchdog()
                else:
                    log.warning("unhealthy (camera thread or broker connection lost): not telling the watchdog")
            if now >= next_status:
                next_status = now + STATUS_EVERY
                log.info("status: %s", summarize(device.status()))
            if not first_said:
                startup = device.status().startup
                if startup is not None and startup.first_result_s is not None:
                    first_said = True
                    print(f"  first result after {startup.first_result_s:.2f} s", flush=True)
            wait = min(0.5 if not first_said else STATUS_EVERY, next_status - now)
            if notifier.watchdog_every:
                wait = min(wait, max(0.0, next_ping - now))
            if deadline is not None:
                wait = min(wait, deadline - now)
            if stop.wait(max(0.0, wait)):
                break
    finally:
        notifier.stopping()
        stop_printing()
        if viewer is not None:
            viewer.stop()
        fleet.stop()
        device.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
