"""Drives one SimulatedDevice for the window: every slow call (start, stop, deploy, a topic tap) runs on one
worker thread, in order; results come back as signals and every failure goes out through ``error``.

Source and profile changes replace the device (stop, then start a new one with the changed RunConfig) and
redeploy the project that was running; a deploy swaps only the Lambda.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor

from paho.mqtt.client import topic_matches_sub
from PySide6.QtCore import QObject, Signal

from gui.workers import FramePoller, SignalBatcher
from simulator import progress
from simulator.camera.sources import open_source, probe_webcam
from simulator.config import RunConfig
from simulator.core import SimulatedDevice
from simulator.errors import SimulatorError
from simulator.ipc.mqtt import MqttLink
from simulator.ipc.topics import device_filters, is_report
from simulator.message_log import keep
from simulator.profiles import load_profile
from simulator.projects import DEFAULT_PROJECT, Project, resolve_project

log = logging.getLogger(__name__)

WEBCAMS_PROBED = 4


class DeviceController(QObject):
    device_started = Signal(object)  # the running SimulatedDevice
    device_stopped = Signal()
    deployed = Signal(str)  # project name
    undeployed = Signal()
    busy = Signal(str)  # what the worker is doing; "" when idle
    error = Signal(str)  # the one route for every failure the user should see
    webcams = Signal(list)  # indices of the webcams found
    rules_reloaded = Signal(str, bool)  # what happened, and whether it worked
    config_kept = Signal(object)  # a change that could not be made: the RunConfig still running

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device: SimulatedDevice | None = None
        self.config: RunConfig | None = None
        self.wanted: str | Project | None = None  # the project that should run (kept across restarts)
        self.topic_filter = ""
        self.poller = FramePoller(parent=self)
        self.messages = SignalBatcher(parent=self)  # Message items
        # (kind, line) items, kind "event" carrying a dict; a Lambda printing in a tight loop loses old lines
        self.lambda_output = SignalBatcher(maxlen=500, parent=self)
        self._tap: MqttLink | None = None
        self._probed = False
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gui-device")
        self._stop_progress = progress.listen(self._on_progress)  # downloads and conversions in the status bar

    def _on_progress(self, stage: str, detail: str, percent: float | None) -> None:
        text = stage[:1].upper() + stage[1:] + (f" {detail}" if detail else "")
        self.busy.emit(text + (f" — {percent:.0f} %" if percent is not None else "") + "…")

    # -- requests from the GUI (return at once) -------------------------------------------------------------
    def start(self, config: RunConfig) -> None:
        self.config = config
        if not self.poller.isRunning():
            self.poller.start()
        self.wanted = config.project or DEFAULT_PROJECT
        self._submit("Starting the device…", self._start_job, config)

    def reconfigure(self, **changes) -> None:
        """Restart the device with changed settings (source, profile), keeping the deployed project."""
        if self.config is None:
            return
        self._submit("Restarting the device…", self._restart_job, self.config.model_copy(update=changes))

    def deploy(self, spec: str) -> None:
        self._submit(f"Deploying {spec}…", self._deploy_job, spec)

    def undeploy(self) -> None:
        self._submit("Stopping the Lambda…", self._undeploy_job)

    def reload_rules(self) -> None:
        self._submit("Reloading the rules…", self._reload_rules_job)

    def _reload_rules_job(self) -> None:
        if self.device is None:
            return
        try:
            self.device.reload_rules()
        except SimulatorError as exc:
            self.rules_reloaded.emit(f"kept the rules that were running: {exc}", False)
            raise
        count = len(self.device.rules.status()) if self.device.rules is not None else 0
        self.rules_reloaded.emit(f"reloaded: {count} rule(s)", True)

    def set_topic_filter(self, topic_filter: str) -> None:
        self.topic_filter = topic_filter.strip()
        self._submit("Subscribing…", self._tap_job)

    def shutdown(self) -> None:
        """Stop everything and wait for it (called when the window closes)."""
        if self._closed:
            return
        self._closed = True
        self._stop_progress()
        self.poller.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)  # the running job finishes, queued ones are dropped
        try:
            self._stop_job()
        except Exception:  # noqa: BLE001 - closing must always finish
            log.exception("stopping the device failed")

    # -- the worker thread ---------------------------------------------------------------------------------
    def _submit(self, what: str, fn, *args) -> None:
        if self._closed:
            return
        self._pool.submit(self._run_job, what, fn, *args)

    def _run_job(self, what: str, fn, *args) -> None:
        self.busy.emit(what)
        try:
            fn(*args)
        except SimulatorError as exc:
            log.warning("%s", exc)
            self.error.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the window, never lost on a worker thread
            log.exception("%s failed", what)
            self.error.emit(f"{what.rstrip('…')} failed: {type(exc).__name__}: {exc}")
        finally:
            self.busy.emit("")

    def _start_job(self, config: RunConfig) -> None:
        project, project_error, wanted = None, None, self.wanted
        if wanted is not None:
            try:
                project = wanted if isinstance(wanted, Project) else resolve_project(wanted)
            except SimulatorError as exc:
                project_error = exc
        source = config.source or (project.source if project else None)
        device = SimulatedDevice(config.model_copy(update={"project": "", "source": source}))
        device.messages.listen(self.messages.push)
        device.on_lambda_line(lambda kind, line: self.lambda_output.push((kind, line)))
        device.on_event(lambda event: self.lambda_output.push(("event", event)))
        device.start()
        self.device = device
        self.poller.set_device(device)
        self.device_started.emit(device)
        if self.topic_filter:
            self._tap_job()
        if project_error is not None:
            raise project_error
        if project is not None:
            self._deploy_job(project)
        if not self._probed:
            self._probed = True
            self._probe_webcams(device)

    def _restart_job(self, config: RunConfig) -> None:
        try:  # a typo must not take down the running device
            load_profile(config.profile)
            if config.source:
                open_source(config.source)
        except SimulatorError:
            if self.config is not None:
                self.config_kept.emit(self.config)  # the pickers show what still runs, not the choice that failed
            raise
        self.config = config
        self._stop_job()
        self._start_job(config)

    def _deploy_job(self, spec: str | Project) -> None:
        if self.device is None:
            raise SimulatorError("the device is not running", hint="choose a source that opens first")
        project = self.device.deploy(spec)
        self.wanted = project
        self.deployed.emit(project.name)

    def _undeploy_job(self) -> None:
        if self.device is not None:
            self.device.undeploy()
        self.wanted = None
        self.undeployed.emit()

    def _stop_job(self) -> None:
        self.poller.set_device(None)
        self._stop_tap()
        device, self.device = self.device, None
        if device is not None:
            device.messages.unlisten(self.messages.push)
            device.stop()
            self.device_stopped.emit()

    def _tap_job(self) -> None:
        self._stop_tap()
        device = self.device
        if not self.topic_filter or device is None:
            return
        thing = device.thing_name
        own = device_filters(thing)

        def on_message(topic: str, payload: bytes) -> None:
            # the device's own messages come through device.messages; the simulator's reports do not
            if is_report(thing, topic) or not any(topic_matches_sub(f, topic) for f in own):
                self.messages.push(keep(0, topic, payload))

        try:
            self._tap = device.new_link().start()
            self._tap.subscribe(self.topic_filter, on_message)
        except (ConnectionError, ValueError) as exc:
            self._stop_tap()
            raise SimulatorError(f"cannot subscribe to '{self.topic_filter}': {exc}") from exc

    def _stop_tap(self) -> None:
        tap, self._tap = self._tap, None
        if tap is not None:
            tap.stop()

    def _probe_webcams(self, device: SimulatedDevice) -> None:
        in_use = re.fullmatch(r"webcam (\d+)", device.source_description or "")
        found = [int(in_use.group(1))] if in_use else []
        for index in range(WEBCAMS_PROBED):
            if index not in found and probe_webcam(index):
                found.append(index)
        self.webcams.emit(sorted(found))
