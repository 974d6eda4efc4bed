"""One simulated DeepLens: camera → Lambda (own process) → MQTT broker, plus the project stream and status.

``SimulatedDevice(config).start()`` brings the pieces up in the device's own order and ``stop()`` takes them
down in reverse; viewers (the web page, the Qt window) read ``device_frame()``, ``project_jpeg()``,
``status()`` and ``messages`` and may ``deploy()`` another project while everything else keeps running.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from simulator.broker.client import MqttLink, TlsFiles
from simulator.broker.embedded import EmbeddedBroker
from simulator.broker.monitor import MessageLog
from simulator.broker.topics import device_filters, infer_topic, status_topic
from simulator.camera.camera import Camera
from simulator.camera.frames import Frame
from simulator.camera.slot import SharedSlot
from simulator.camera.sources import open_source, probe_webcam
from simulator.config import RunConfig
from simulator.device import context as dctx
from simulator.device.display import CAPACITY as PROJECT_CAPACITY
from simulator.device.stats import StatsReader
from simulator.errors import ConfigError, SimulatorError
from simulator.paths import data_dir, default_artifacts_dir, runtime_root
from simulator.profiles import load_profile
from simulator.projects import Project, resolve_project
from simulator.runtime.supervisor import LambdaSupervisor
from simulator.runtime.thing import check_thing_name, default_thing_name
from simulator.telemetry import Telemetry

log = logging.getLogger(__name__)


def parse_broker(text: str) -> tuple[str, int]:
    """``HOST:PORT`` of an external broker; ConfigError if it is not one."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--broker {text!r}: expected HOST:PORT with a port from 1 to 65535 "
                          "(e.g. 127.0.0.1:1883, or <endpoint>-ats.iot.<region>.amazonaws.com:8883)")
    return host, int(port)


class SimulatedDevice:
    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.profile = load_profile(config.profile)
        self.thing_name = check_thing_name(config.thing_name) if config.thing_name else default_thing_name()
        self.artifacts = Path(config.artifacts) if config.artifacts else default_artifacts_dir()
        self.messages = MessageLog()
        self.project: Project | None = None
        self.source_description = ""
        self.broker: EmbeddedBroker | None = None
        self.camera: Camera | None = None
        self.supervisor: LambdaSupervisor | None = None
        self.link: MqttLink | None = None
        self.telemetry = Telemetry(self)
        self.run_dir: Path | None = None
        self._project_slot: SharedSlot | None = None
        self._stats: StatsReader | None = None
        self._line_listeners: list[Callable[[str, str], None]] = []
        self._event_listeners: list[Callable[[dict], None]] = []
        self._lock = threading.RLock()
        self.mqtt_host, self.mqtt_port = config.mqtt_host, config.mqtt_port
        self.tls = TlsFiles(*(str(p) if p else None for p in (config.broker_ca, config.broker_cert,
                                                                  config.broker_key))) \
            if config.broker and (config.broker_ca or config.broker_cert) else None
        if config.broker:
            parse_broker(config.broker)
        for flag, path in (("--broker-ca", config.broker_ca), ("--broker-cert", config.broker_cert),
                           ("--broker-key", config.broker_key)):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{flag}: no such file: {path}")

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> SimulatedDevice:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        project = resolve_project(self.config.project) if self.config.project != "" else None
        self.run_dir = runtime_root() / f"deeplens-sim-{os.getpid()}-{self.thing_name[-12:]}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.config.broker:
            self.mqtt_host, self.mqtt_port = parse_broker(self.config.broker)
        else:
            self.broker = EmbeddedBroker(self.config.mqtt_host, self.config.mqtt_port).start()
            self.mqtt_port = self.broker.port
        self.camera = Camera(self._choose_source(project), self.profile.camera,
                             self.run_dir / dctx.FRAMES_FILE, realtime=self.config.realtime)
        self.camera.start()
        self._project_slot = SharedSlot.create(self.run_dir / dctx.PROJECT_FILE, PROJECT_CAPACITY)
        self._stats = StatsReader.create(self.run_dir / dctx.STATS_FILE)
        try:
            self.link = self.new_link(f"{self.thing_name}-core").start()
        except ConnectionError as exc:
            raise SimulatorError(str(exc), hint="is the broker running? (omit --broker for the embedded one)")
        for f in device_filters(self.thing_name):
            self.link.subscribe(f, self.messages.add)
        self.telemetry.start()
        if project is not None:
            self.deploy(project)

    def _choose_source(self, project: Project | None):
        spec = self.config.source or (project.source if project else None)
        if spec is None:
            if probe_webcam(0):
                spec = "0"
            else:
                log.info("no webcam found: playing the bundled demo clip")
                spec = "demo"
        source = open_source(spec)
        self.source_description = source.description
        return source

    def stop(self) -> None:
        with self._lock:
            self.undeploy()
        self.telemetry.stop()
        if self.link is not None:
            self.link.stop()
            self.link = None
        if self.camera is not None:
            self.camera.stop()
            self.camera = None
        for closable in (self._project_slot, self._stats):
            if closable is not None:
                closable.close()
        self._project_slot = self._stats = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None

    # -- deploying -------------------------------------------------------------------------------------------
    def deploy(self, project: Project | str | Path | None) -> Project:
        """Swap the running Lambda for ``project`` (a Project, sample name, folder or Lambda file)."""
        if not isinstance(project, Project):
            project = resolve_project(project)
        for name in project.models:
            from simulator.inference.store import ensure_model

            ensure_model(name)
        with self._lock:
            self.undeploy()
            assert self.run_dir is not None and self._stats is not None
            self._stats.clear()
            ctx = dctx.DeviceContext(
                thing_name=self.thing_name, run_dir=self.run_dir, mqtt_host=self.mqtt_host,
                mqtt_port=self.mqtt_port, artifacts=self.artifacts, profile=self.config.profile,
                shadows=data_dir() / "shadows", lambda_file=project.lambda_file, tls=self.tls)
            self.supervisor = LambdaSupervisor(project.lambda_file, ctx.env(), on_event=self._on_event,
                                               on_line=self._on_line)
            self.project = project
            self.supervisor.start()
        log.info("deployed project %s (%s) as thing %s", project.name, project.lambda_file, self.thing_name)
        return project

    def undeploy(self) -> None:
        """Stop the running Lambda (if any); its last project-stream frame goes with it."""
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None
            self.project = None
        if self._project_slot is not None:
            self._project_slot.write(b"")

    def _on_event(self, event: dict) -> None:
        event = dict(event, time=time.time(), thing=self.thing_name)
        if self.link is not None:
            self.link.publish(status_topic(self.thing_name), json.dumps(event))
        for fn in list(self._event_listeners):
            fn(event)

    def _on_line(self, kind: str, line: str) -> None:
        for fn in list(self._line_listeners):
            fn(kind, line)

    def on_lambda_line(self, fn: Callable[[str, str], None]) -> None:
        self._line_listeners.append(fn)

    def on_event(self, fn: Callable[[dict], None]) -> None:
        self._event_listeners.append(fn)

    def new_link(self, client_id: str | None = None) -> MqttLink:
        """A (not yet started) MQTT client for this device's broker, e.g. for a viewer's own topic filter."""
        return MqttLink(self.mqtt_host, self.mqtt_port, client_id=client_id, tls=self.tls)

    # -- what viewers read -----------------------------------------------------------------------------------
    def device_frame(self) -> Frame | None:
        return self.camera.latest if self.camera is not None else None

    def project_seq(self) -> int:
        """Sequence number of the newest project-stream frame (0: none yet); cheap, copies nothing."""
        slot = self._project_slot
        return slot.seq if slot is not None else 0

    def project_jpeg(self, newer_than: int | None = None) -> tuple[int, bytes] | None:
        """(sequence number, JPEG bytes) of the newest project-stream frame, or None (also when its sequence
        number is ``newer_than``, i.e. nothing new since)."""
        slot = self._project_slot
        if slot is None or (newer_than is not None and slot.seq == newer_than):
            return None
        got = slot.read()
        if got is None or got.data.size == 0:
            return None
        return got.seq, got.data.tobytes()

    def lambda_stats(self) -> dict:
        return self._stats.read() if self._stats is not None else {}

    @property
    def infer_topic(self) -> str:
        return infer_topic(self.thing_name)

    def status(self) -> dict:
        cam = self.camera.stats if self.camera is not None else None
        sup = self.supervisor.status if self.supervisor is not None else None
        return {
            "thing_name": self.thing_name,
            "profile": self.profile.name,
            "source": self.source_description,
            "frame_size": list(self.camera.frame_size) if self.camera and self.camera.slot else None,
            "camera": {"fps": round(cam.fps, 2), "frames": cam.frames, "dropped": cam.dropped,
                       "reconnects": cam.reconnects, "error": cam.error} if cam else None,
            "project": self.project.name if self.project else None,
            "lambda": {"name": sup.name, "state": sup.state, "pid": sup.pid, "restarts": sup.restarts,
                       "last_exit": sup.last_exit, "last_error": sup.last_error} if sup else None,
            "inference": self.telemetry.summary(),
            "broker": {"host": self.mqtt_host, "port": self.mqtt_port,
                       "embedded": self.broker is not None, "infer_topic": self.infer_topic},
            "messages": self.messages.total,
        }
