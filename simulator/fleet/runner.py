"""N simulated devices in one process: a classroom on one machine (``python main.py fleet``).

    fleet = Fleet(FleetOptions(devices=4, sources=["clip.mp4"], project="hotdog")).start()
    fleet.devices, fleet.viewers, fleet.watcher, fleet.server.url, fleet.capacity()
    fleet.stop()

Each device has its own thing name (``<prefix>-01`` …), camera, Lambda process and project stream. They share
one broker — the first device's embedded one; the others connect to it as to any external broker, each with
credentials that broker issues for its thing — and the
devices that play the same source share one decoder (``shared_source``). Each device has its own web viewer on a
port of its own (``--http-port`` + 1, + 2 …; the device page addresses its streams from the root of its
origin); the fleet's page ``/fleet`` is on ``--http-port``. Every device publishes a thumbnail a second and its
info (viewer URL, rates) for the instructor's view.

The devices share the machine's cores: each Lambda's OpenVINO gets ``cpu_threads`` inference threads, by default
the physical cores divided among the devices (at least one), left unpinned. OpenVINO's own default (a thread on
every core, each pinned to it) is made for one process: several such Lambdas spread every layer over all cores
and wait on one another at each layer, and single threads would all be pinned to the first core.

With the unpaced ``host`` profile, the first device runs alone for ``baseline_seconds`` once it has settled:
its rate is the one every host-profile device is held to ("falling behind" below 90 % of it).
Things are stopped in the reverse order they were started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import psutil
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulator.config import RunConfig, check_thing_name, config_error
from simulator.core import SimulatedDevice
from simulator.errors import ConfigError, SimulatorError
from simulator.fleet.capacity import CapacityReport, device_rate, measure_baseline, paced_rate, report
from simulator.fleet.device import new_device
from simulator.fleet.info import InfoPublisher
from simulator.fleet.server import FleetServer
from simulator.fleet.shared_source import SharedSources
from simulator.fleet.watcher import FleetWatcher
from simulator.projects import resolve_project
from simulator.status import DeviceStatus
from simulator.viewer.server import ViewerServer

log = logging.getLogger(__name__)

MAX_DEVICES = 64


class FleetOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    devices: int = Field(ge=1, le=MAX_DEVICES)
    sources: list[str] = Field(default_factory=list, description="cycled over the devices (none: the project's "
                                                                 "source, else webcam 0, else the demo clip)")
    project: str | None = None
    profile: str = "host"
    thing_prefix: str = "student"
    artifacts: Path | None = None
    listen: str = "127.0.0.1"  # where the broker and the viewers listen (beyond loopback: passwords and tokens)
    password_file: Path | None = None  # the broker's users (beyond loopback one is made if absent)
    http_port: int = Field(default=8080, ge=0, le=65535 - MAX_DEVICES)
    mqtt_port: int = Field(default=1883, ge=0, le=65535)
    thumbnails: bool = True
    baseline_seconds: float = Field(default=5.0, ge=0)
    env: dict[str, str] = Field(default_factory=dict)
    cpu_threads: int | None = Field(default=None, ge=0)  # per Lambda (None: the cores shared out, see above; 0:
    # OpenVINO's default in every Lambda)

    @field_validator("thing_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return check_thing_name(f"{value}-01") and value

    def thing_name(self, index: int) -> str:
        return f"{self.thing_prefix}-{index + 1:02d}"

    def source(self, index: int) -> str | None:
        return self.sources[index % len(self.sources)] if self.sources else None

    def threads_per_device(self, cores: int | None = None) -> int | None:
        """OpenVINO CPU threads for each Lambda: ``cpu_threads`` if given (0: OpenVINO's default, None), else one
        device keeps OpenVINO's default and more share ``cores`` (default: this machine's physical cores) out, at
        least one each."""
        if self.cpu_threads is not None or self.devices == 1:
            return self.cpu_threads or None
        cores = cores or psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
        return max(1, cores // self.devices)


class Fleet:
    def __init__(self, options: FleetOptions, say: Callable[[str], None] = log.info) -> None:
        self.options = options
        self.say = say  # progress, for people
        self.devices: list[SimulatedDevice] = []
        self.viewers: list[ViewerServer] = []
        self.infos: list[InfoPublisher] = []  # each device's deeplens/<thing>/info
        self.sources = SharedSources()
        self.watcher: FleetWatcher | None = None
        self.server: FleetServer | None = None
        self.baseline: float | None = None  # one host-profile device's rate, alone on this machine
        self._undo: list[Callable[[], None]] = []  # what start() did, undone in reverse by stop()
        self._stopping = False

    # -- starting --------------------------------------------------------------------------------------------
    def start(self, on_device: Callable[[SimulatedDevice, ViewerServer], None] | None = None) -> Fleet:
        """Start everything (``on_device`` hears of each device as it is up); on failure, stop what started."""
        try:
            self._start(on_device)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, on_device: Callable[[SimulatedDevice, ViewerServer], None] | None) -> None:
        o = self.options
        project = resolve_project(o.project) if o.project != "" else None  # a bad name fails before anything runs
        default_source = project.source if project is not None else None
        self._undo.append(self.sources.close)
        for i in range(o.devices):
            if self._stopping:
                return
            device, viewer = self._start_device(i, o.source(i) or default_source)
            if on_device is not None:
                on_device(device, viewer)
            if i == 0:
                self._start_watch(device)
                if o.devices > 1 and o.profile == "host" and o.baseline_seconds > 0:
                    self._measure_baseline(device)

    def _config(self, index: int) -> RunConfig:
        o = self.options
        thing = o.thing_name(index)
        settings = {"project": o.project, "profile": o.profile, "thing_name": thing, "artifacts": o.artifacts,
                    "http_host": o.listen, "http_port": 0, "env": o.env}
        if index == 0:  # the broker of the fleet
            settings.update(mqtt_host=o.listen, mqtt_port=o.mqtt_port, password_file=o.password_file)
        else:  # the first device's broker, as a thing of its own (credentials it issues)
            first = self.devices[0]
            settings["broker"] = f"{first.connect_host}:{first.mqtt_port}"
            if first.broker is not None:
                settings["broker_username"], settings["broker_password"] = first.broker.issue_credentials(thing)
        settings["thumbnail"] = o.thumbnails
        settings["cpu_threads"] = o.threads_per_device()
        try:
            return RunConfig(**settings)
        except ValidationError as exc:
            raise config_error(exc) from None

    def _start_device(self, index: int, source_spec: str | None) -> tuple[SimulatedDevice, ViewerServer]:
        o = self.options
        device = new_device(self._config(index), self.sources.get(source_spec))
        device.start()
        self.devices.append(device)
        self._undo.append(device.stop)
        port = 0 if o.http_port == 0 else o.http_port + index + 1
        viewer = ViewerServer(device, o.listen, port).start()
        self.viewers.append(viewer)
        self._undo.append(viewer.stop)
        assert device.link is not None
        info = device.info
        if info is None:
            raise SimulatorError(f"fleet: {device.thing_name} publishes no device info")
        info.set_expected(self.expected_rate)
        info.set_viewer(viewer.remote_url)
        self.infos.append(info)
        log.info("fleet: %s up (%s), viewer %s", device.thing_name, device.source_description, viewer.url)
        return device, viewer

    def _start_watch(self, first: SimulatedDevice) -> None:
        self.watcher = FleetWatcher(first.new_link).start()
        self._undo.append(self.watcher.stop)
        self.server = FleetServer(self.watcher, self.options.listen, self.options.http_port).start()
        self._undo.append(self.server.stop)

    def _measure_baseline(self, first: SimulatedDevice) -> None:
        self.say(f"  measuring {first.thing_name} alone for {self.options.baseline_seconds:g} s once it runs "
                 "(the rate every host-profile device is held to)…")
        self.baseline = measure_baseline(first.status, self.options.baseline_seconds, stop=lambda: self._stopping)
        if self.baseline is None:
            log.warning("fleet: %s gave no steady rate; host-profile devices are not judged", first.thing_name)
        else:
            self.say(f"  one device alone: {self.baseline:.1f} inferences/s")
            for info in self.infos:  # the rate they are held to, said at once
                info.publish_now()

    # -- while it runs ---------------------------------------------------------------------------------------
    def expected_rate(self, status: DeviceStatus) -> float | None:
        """The rate a device should reach: its paced profile's, or (host) one device's alone on this machine."""
        return paced_rate(status) or (self.baseline if status.profile == "host" else None)

    def capacity(self) -> CapacityReport:
        return report(device_rate(d.status(), self.baseline if self.options.profile == "host" else None)
                      for d in list(self.devices))

    # -- stopping --------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop everything in the reverse order it started (safe to call twice, and from another thread)."""
        self._stopping = True
        while self._undo:
            undo = self._undo.pop()
            try:
                undo()
            except Exception:  # noqa: BLE001 - the rest must stop all the same
                log.exception("fleet: stopping %s failed", getattr(undo, "__qualname__", undo))
        self.devices.clear()
        self.viewers.clear()
        self.infos.clear()


def check_options(**kwargs) -> FleetOptions:
    """``FleetOptions`` from command-line values; ConfigError naming the flag."""
    try:
        return FleetOptions(**kwargs)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            flag = "--" + str(err["loc"][0]).replace("_", "-") if err["loc"] else ""
            lines.append(f"{flag}: {str(err['msg']).removeprefix('Value error, ')}")
        raise ConfigError("\n".join(lines)) from None
