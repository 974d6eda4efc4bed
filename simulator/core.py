"""One simulated DeepLens: camera → Lambda (own process) → MQTT broker, plus the project stream and status.

``SimulatedDevice(config).start()`` brings the pieces up in the device's own order and ``stop()`` takes them
down in reverse; viewers (the web page, the Qt window) read ``device_frame()``, ``project_jpeg()``,
``status()`` and ``messages`` and may ``deploy()`` another project while everything else keeps running.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.broker.embedded import EmbeddedBroker
from simulator.camera.base import Source
from simulator.camera.camera import Camera
from simulator.camera.sources import choose_source
from simulator.cloud import shared as shared_cloud
from simulator.cloud.local import LocalCloud
from simulator.config import RunConfig
from simulator.errors import SimulatorError
from simulator.events import StatusEvent
from simulator.fleet.info import InfoPublisher
from simulator.fleet.thumbnail import ThumbnailPublisher, device_frames
from simulator.ipc.context import DeviceContext
from simulator.ipc.frames import Frame
from simulator.ipc.mqtt import CredentialsRefusedError, MqttLink, TlsFiles
from simulator.ipc.project_stream import CAPACITY as PROJECT_CAPACITY
from simulator.ipc.run_folder import RunFolder, clean_stale
from simulator.ipc.slot import SharedSlot
from simulator.ipc.stats import StatsReader
from simulator.ipc.topics import device_filters, infer_topic, is_report, status_topic
from simulator.message_log import MessageLog
from simulator.paths import data_dir, default_artifacts_dir
from simulator.profiles import load_profile
from simulator.projects import Project, resolve_project
from simulator.runtime.supervisor import LambdaSupervisor
from simulator.runtime.thing import default_thing_name
from simulator.startup import StartupTracker
from simulator.status import BrokerStatus, CameraStatus, CloudStatus, DeviceStatus
from simulator.telemetry import Telemetry

if TYPE_CHECKING:
    from simulator.rules import RulesEngine

log = logging.getLogger(__name__)
EARLY_EVENTS = 20  # status events kept while the core's MQTT link is not up yet
RECENT_LINES = 200  # Lambda output lines kept for a listener that comes late (see on_lambda_line)


class SimulatedDevice:
    """``source``: a camera source to play instead of the one ``config.source`` names (a fleet's shared decoder)."""

    def __init__(self, config: RunConfig, source: Source | None = None) -> None:
        self.config = config
        self._given_source = source
        self.thumbnails: ThumbnailPublisher | None = None
        self.info: InfoPublisher | None = None
        self.profile = load_profile(config.profile)
        self.thing_name = config.thing_name or default_thing_name()
        self.artifacts = Path(config.artifacts) if config.artifacts else default_artifacts_dir()
        self.messages = MessageLog()
        self.project: Project | None = None
        self.source_description = ""
        self.broker: EmbeddedBroker | None = None
        self._early_events: list[str] = []  # status events of the Lambda before the core's link was up
        self.camera: Camera | None = None
        self.supervisor: LambdaSupervisor | None = None
        self.link: MqttLink | None = None
        self.run_folder: RunFolder | None = None
        self.cloud: LocalCloud | None = None
        self.rules: RulesEngine | None = None
        self._project_slot: SharedSlot | None = None
        self._stats: StatsReader | None = None
        self.telemetry = Telemetry(self.lambda_stats, self.project_seq)
        self.startup = StartupTracker()
        self._line_listeners: list[Callable[[str, str], None]] = []
        self._recent_lines: deque[tuple[str, str]] = deque(maxlen=RECENT_LINES)
        self._lines_lock = threading.Lock()
        self._event_listeners: list[Callable[[StatusEvent], None]] = []
        self._lock = threading.RLock()
        address = config.broker_address
        self.mqtt_host, self.mqtt_port = address if address else (config.mqtt_host, config.mqtt_port)
        self.tls = TlsFiles(ca=_opt(config.broker_ca), cert=_opt(config.broker_cert), key=_opt(config.broker_key)) \
            if config.broker and (config.broker_ca or config.broker_cert) else None
        # who the Lambda and the core are on the broker: issued by the embedded one, or given for an external one
        external = (config.broker_username, config.broker_password or "") if config.broker_username else None
        self.lambda_credentials: tuple[str, str] | None = external
        self.core_credentials: tuple[str, str] | None = external

    @property
    def run_dir(self) -> Path | None:
        return self.run_folder.path if self.run_folder is not None else None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> SimulatedDevice:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.startup.restart_clock()
        project = resolve_project(self.config.project) if self.config.project != "" else None
        clean_stale()
        self.run_folder = RunFolder.create()
        if self.config.broker is None:
            self.startup.stage("starting the MQTT broker")
            self.broker = self._start_broker()  # its process starts while the camera opens
            self.mqtt_port = self.broker.port
        if self.config.cloud == "local":
            self.cloud = shared_cloud.acquire(self.artifacts / "cloud", self.config.cloud_port, self.thing_name,
                                              self._publish)
        self.startup.stage("starting the camera")
        source = self._given_source or choose_source(self.config.source or (project.source if project else None))
        self.source_description = source.description
        self.camera = Camera(source, self.profile.camera, self.run_folder.frames, realtime=self.config.realtime,
                             every_frame=self.config.every_frame)
        self.camera.start()
        self._project_slot = SharedSlot.create(self.run_folder.project_stream, PROJECT_CAPACITY)
        self._stats = StatsReader.create(self.run_folder.stats)
        # The Lambda process starts while the broker's does (its MQTT connection waits in the listening socket's
        # backlog) — unless rules must see its first message: then the rules engine subscribes first.
        early = project is not None and not (self.config.rules or project.rules)
        if early:
            self._deploy(project, fresh_clock=False)  # time to first result counts from start()
        try:
            if self.broker is not None:
                self.broker.wait_ready()
            self.link = self.new_link(f"{self.thing_name}-core").start()
        except CredentialsRefusedError as exc:
            raise SimulatorError(str(exc), hint="give the broker's user with --broker-username and its password in "
                                 "DEEPLENS_SIM_BROKER_PASSWORD (or --broker-password)") from None
        except ConnectionError as exc:
            raise SimulatorError(str(exc), hint="is the broker running? (omit --broker for the embedded one)") \
                from None
        for f in device_filters(self.thing_name):
            self.link.subscribe(f, self._log_message)
        early_events, self._early_events = self._early_events, []
        for payload in early_events:
            self.link.publish(status_topic(self.thing_name), payload)
        self.messages.listen(self._on_message)
        self.telemetry.start()
        # what the instructor's fleet view shows: this device's info (retained) and a thumbnail a second
        self.info = InfoPublisher(self.status, self.link.publish, self.thing_name).start()
        if self.config.thumbnail:
            self.thumbnails = ThumbnailPublisher(device_frames(self), self.link.publish, self.thing_name).start()
        self._start_rules(project)
        if project is None:
            self.startup.undeployed()
        elif not early:
            self._deploy(project, fresh_clock=False)

    def _start_broker(self) -> EmbeddedBroker:
        from simulator.broker.settings import BrokerSettings
        from simulator.network import password_file

        c = self.config
        settings = BrokerSettings(host=c.mqtt_host, port=c.mqtt_port, password_file=password_file(c),
                                  tls_port=c.mqtt_tls_port if c.tls_cert else None, tls_cert=c.tls_cert,
                                  tls_key=c.tls_key, impl=c.broker_impl)
        broker = EmbeddedBroker.from_settings(settings, hosted_things=[self.thing_name])
        self.broker = broker  # stopped by stop() if what follows fails
        self.lambda_credentials = broker.issue_credentials(self.thing_name)  # sent to the broker as it starts
        self.core_credentials = broker.issue_credentials(f"{self.thing_name}-core", role="instructor")
        return broker.start(wait=False)

    def stop(self) -> None:
        if self.thumbnails is not None:
            self.thumbnails.stop()
            self.thumbnails = None
        with self._lock:
            self.undeploy()
        if self.rules is not None:
            self.rules.stop()
            self.rules = None
        self.telemetry.stop()
        if self.info is not None:  # the last message: offline
            self.info.stop()
            self.info = None
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
        if self.cloud is not None:  # last: what the Lambdas and rules wrote is saved
            self.cloud = None
            shared_cloud.release(self.thing_name)
        if self.run_folder is not None:
            self.run_folder.remove()
            self.run_folder = None
        self.startup.close()

    # -- deploying -------------------------------------------------------------------------------------------
    def deploy(self, project: Project | str | Path | None) -> Project:
        """Swap the running Lambda for ``project`` (a Project, sample name, folder or Lambda file)."""
        return self._deploy(project, fresh_clock=True)

    def _deploy(self, project: Project | str | Path | None, fresh_clock: bool) -> Project:
        if not isinstance(project, Project):
            project = resolve_project(project)
        from simulator.inference.store import ensure_models

        if fresh_clock:
            self.startup.restart_clock()
            self._start_rules(project)  # a bad rule file stops the deployment before anything changes
        ensure_models(project.models)
        with self._lock:
            self.undeploy()
            if self.run_folder is None or self._stats is None:
                raise SimulatorError("the device is not running", hint="start it before deploying a project")
            self._stats.clear()
            ctx = DeviceContext(
                thing_name=self.thing_name, run_dir=self.run_folder.path, mqtt_host=self.connect_host,
                mqtt_port=self.mqtt_port, artifacts=self.artifacts, profile=self.config.profile,
                shadows=data_dir() / "shadows", lambda_file=project.lambda_file, tls=self.tls,
                mqtt_username=self.lambda_credentials[0] if self.lambda_credentials else None,
                mqtt_password=self.lambda_credentials[1] if self.lambda_credentials else None)
            # Greengrass gave Lambdas their variables; --env and --cpu-threads add to the project's
            env = {**dict(project.env), **self.config.lambda_env(), **ctx.env()}
            self.supervisor = LambdaSupervisor(
                project.lambda_file, env, on_event=self._on_event, on_line=self._on_line,
                base_env=self.cloud.lambda_environ() if self.cloud is not None else None,
                progress=self._lambda_progress, watchdog_seconds=project.watchdog_seconds,
                memory_limit_mb=self.config.memory_limit_mb or project.memory_limit_mb or default_memory_limit(
                    self.profile.memory_gb))
            self.project = project
            self.startup.lambda_started(project.name)
            self.supervisor.start()
        log.info("deployed project %s (%s) as thing %s", project.name, project.lambda_file, self.thing_name)
        return project

    def undeploy(self) -> None:
        """Stop the running Lambda (if any); its last project-stream frame goes with it."""
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None
            self.project = None
            self.startup.undeployed()
            if self._stats is not None:  # no Lambda, no Lambda figures: the status and the plot show none
                self._stats.clear()
        if self._project_slot is not None:
            self._project_slot.write(b"")

    def _on_event(self, event: StatusEvent) -> None:
        event = event.model_copy(update={"time": time.time(), "thing": self.thing_name})
        if self.link is not None:
            self.link.publish(status_topic(self.thing_name), json.dumps(event.as_json()))
        elif len(self._early_events) < EARLY_EVENTS:
            self._early_events.append(json.dumps(event.as_json()))  # published once the core's link is up
        for fn in list(self._event_listeners):
            fn(event)

    def _start_rules(self, project: Project | None) -> None:
        """(Re)start the rules engine on --rules plus the project's rule files (none: no engine)."""
        files = list(dict.fromkeys(Path(f).resolve() for f in
                                   [*self.config.rules, *(project.rules if project is not None else ())]))
        if not files and self.rules is None:
            return
        from simulator.rules import RulesEngine, load_rules

        ruleset = load_rules(files) if files else None  # RulesError names file, line and key
        if self.rules is not None:
            self.rules.stop()
            self.rules = None
        if ruleset is None:
            return
        env = self.cloud.env() if self.cloud is not None else {}
        self.rules = RulesEngine(ruleset, self.new_link, env=env, thing_name=self.thing_name,
                                 work_dir=self.artifacts / "rules").start()

    def reload_rules(self) -> None:
        """Read the rule files again (a bad file keeps the old rules running and raises RulesError)."""
        if self.rules is None:
            self._start_rules(self.project)
        else:
            self.rules.reload()

    def _publish(self, topic: str, payload: bytes) -> None:
        """A Lambda's boto3 iot-data publish (through the local cloud) onto this device's broker."""
        if self.link is not None:
            self.link.publish(topic, payload)

    def _lambda_progress(self) -> int:
        """Grows while the Lambda works: frames read, inferences, publishes, project-stream frames, frames sent to
        Kinesis Video (a Lambda may sleep while its stream records)."""
        stats = self.lambda_stats()
        keys = ("frames_read", "inferences", "publishes", "stale_frames", "kvs_frames")
        return sum(int(stats.get(k) or 0) for k in keys) + self.project_seq()

    def _log_message(self, topic: str, payload: bytes) -> None:
        """The device's messages for the viewers, but for the simulator's own reports (see ``is_report``)."""
        if not is_report(self.thing_name, topic):
            self.messages.add(topic, payload)

    def _on_message(self, msg) -> None:
        if msg.topic == self.infer_topic and msg.payload.lstrip()[:1] in (b"{", b"["):  # a result, not a note
            self.startup.saw_result()

    def _on_line(self, kind: str, line: str) -> None:
        with self._lines_lock:
            self._recent_lines.append((kind, line))
            listeners = list(self._line_listeners)
        for fn in listeners:
            fn(kind, line)

    def on_lambda_line(self, fn: Callable[[str, str], None], replay: bool = False) -> None:
        """Call ``fn(kind, line)`` for each line of the Lambda's output; ``replay``: first for the last
        ``RECENT_LINES`` it printed (a listener that came after the start still sees how it began)."""
        with self._lines_lock:
            backlog = list(self._recent_lines) if replay else []
            self._line_listeners.append(fn)
            for kind, line in backlog:
                fn(kind, line)

    def on_event(self, fn: Callable[[StatusEvent], None]) -> None:
        self._event_listeners.append(fn)

    def new_link(self, client_id: str | None = None) -> MqttLink:
        """A (not yet started) MQTT client for this device's broker, e.g. for a viewer's own topic filter."""
        user, password = self.core_credentials or (None, None)
        return MqttLink(self.connect_host, self.mqtt_port, client_id=client_id, tls=self.tls, username=user,
                        password=password)

    @property
    def connect_host(self) -> str:
        """Where this machine's own clients reach the broker (a wildcard listen address is reached on loopback)."""
        return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.mqtt_host, self.mqtt_host)

    # -- what viewers read -----------------------------------------------------------------------------------
    def healthy(self) -> bool:
        """The camera thread runs and the core is connected to its broker (what the service watchdog checks)."""
        return self.camera is not None and self.camera.alive and self.link is not None \
            and self.link.connected.is_set()

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

    def lambda_stats(self) -> dict[str, Any]:
        return self._stats.read() if self._stats is not None else {}

    @property
    def infer_topic(self) -> str:
        return infer_topic(self.thing_name)

    def status(self) -> DeviceStatus:
        camera, sup = self.camera, self.supervisor
        cam = camera.stats if camera is not None else None
        lam = sup.status if sup is not None else None
        inference = self.telemetry.summary()
        return DeviceStatus(
            thing_name=self.thing_name,
            profile=self.profile.name,
            source=self.source_description,
            frame_size=camera.frame_size if camera is not None and camera.slot is not None else None,
            camera=CameraStatus(fps=round(cam.fps, 2), frames=cam.frames, dropped=cam.dropped,
                                reconnects=cam.reconnects, error=cam.error, state=cam.state,
                                skipped=cam.skipped) if cam else None,
            project=self.project.name if self.project else None,
            lambda_=lam,
            inference=inference,
            broker=BrokerStatus(host=self.mqtt_host, port=self.mqtt_port, embedded=self.broker is not None,
                                infer_topic=self.infer_topic,
                                stats=self.broker.stats() if self.broker is not None else None),
            messages=self.messages.total,
            startup=self.startup.snapshot(inference, self.project_seq()),
            cloud=self._cloud_status(),
            rules=self.rules.status() if self.rules is not None else [],
        )

    def _cloud_status(self) -> CloudStatus:
        cloud = self.cloud
        if cloud is None:
            return CloudStatus(mode="aws", region=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"))
        return CloudStatus(mode="local", endpoint=cloud.endpoint, region=cloud.region, loaded=cloud.booted)


def default_memory_limit(profile_memory_gb: float | None) -> float:
    """Half the device's memory (the rest is the OS, the camera and the other Lambdas), else half this machine's."""
    if profile_memory_gb:
        return profile_memory_gb * 1024 / 2
    import psutil

    return psutil.virtual_memory().total / 2**20 / 2


def _opt(path: Path | None) -> str | None:
    return str(path) if path is not None else None
