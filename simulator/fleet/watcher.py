"""The instructor's view of a broker: every device that publishes on it, local or remote (a fleet on this
machine, students' simulators, a mosquitto, AWS IoT Core).

    watcher = FleetWatcher(host="10.0.0.5", port=1883).start()      # or FleetWatcher(device.new_link)
    watcher.snapshot()          # FleetSnapshot: one ThingView per thing, JSON-ready
    watcher.thumbnail("student-01")                                  # (sequence, JPEG) or None
    watcher.stop()

It subscribes to ``$aws/things/+/infer`` (results), ``deeplens/+/status`` (Lambda events, see
``simulator.events``), ``deeplens/+/thumbnail`` (small JPEGs) and ``deeplens/+/info`` (retained: viewer URL,
profile, project, rates; see ``simulator.fleet.info``), and ``deeplens/+/alerts`` (what rules raise about a thing,
e.g. the people counter's count changes). It keeps at most ``max_things`` things (the one seen
least recently is forgotten first); a thing silent for ``offline_after`` seconds is shown as offline.

A thing's results and inferences per second are counted over the same seconds (``simulator.fleet.rates``): the
interval between its last two info messages, while it sends them with its inference counter; otherwise results
per second are counted over the watcher's last ``rate_window`` seconds and inferences per second are the
device's own figure (``same_window`` says which).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulator.errors import SimulatorError
from simulator.events import LambdaFailing, LambdaHung, LambdaKilled, LambdaRestarting, LambdaStarted, parse_event
from simulator.fleet.capacity import KEEP_UP, is_behind
from simulator.fleet.info import DeviceInfo
from simulator.fleet.rates import Mark, ResultRate, SharedRates, shared_rates, still_current
from simulator.fleet.topics import (
    ALERTS_FILTER,
    INFER_FILTER,
    INFO_FILTER,
    STATUS_FILTER,
    THUMBNAIL_FILTER,
    thing_of,
)
from simulator.ipc.mqtt import MqttLink, TlsFiles

log = logging.getLogger(__name__)

MAX_THINGS = 500
OFFLINE_AFTER = 60.0
RATE_WINDOW = 5.0
RESULT_CHARS = 240
MAX_THUMBNAIL = 256 * 1024

LinkFactory = Callable[[str], MqttLink]
Badge = Literal["ok", "waiting", "behind", "lambda", "idle", "offline", "stopped"]
LAMBDA_TROUBLE = ("restarting", "failing", "hung", "killed")


class ThingView(BaseModel):
    """One thing as the instructor sees it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    thing: str
    badge: Badge = Field(description="ok | waiting (no result yet) | behind (falling behind its profile's rate) | "
                                     "lambda (its Lambda is restarting, failing, hung or was killed) | idle (the "
                                     "device runs, its Lambda was stopped) | offline (silent for offline_after s) "
                                     "| stopped (the device said it stopped)")
    last_seen: float = Field(description="Unix time of its last message")
    seen_ago_s: float
    result: str | None = Field(default=None, description="its latest result payload (text, cut to 240 chars)")
    results: int = Field(default=0, description="results seen since the watcher started")
    results_per_s: float = Field(default=0.0, description="results per second over rate_window_s seconds: the "
                                                          "watcher's last ones, or with same_window the interval "
                                                          "between the thing's last two info messages")
    lambda_state: str | None = Field(default=None, description="from its status events: running, restarting, "
                                                               "stopped, hung, killed, failing")
    restarts: int = 0
    last_event: str | None = Field(default=None, description="its latest status event, in words")
    alert: str | None = Field(default=None, description="the latest message on deeplens/<thing>/alerts (cut)")
    alerts: int = Field(default=0, description="alerts seen since the watcher started")
    alert_time: float | None = None
    thumbnail_seq: int = Field(default=0, description="thumbnails received (0: none)")
    thumbnail_time: float | None = None
    viewer: str | None = Field(default=None, description="its web viewer, if it said where")
    profile: str | None = None
    project: str | None = None
    source: str | None = None
    inference_fps: float | None = Field(default=None, description="inferences per second: over the same seconds as "
                                                                  "results_per_s when same_window, else as the "
                                                                  "device last reported it (None: not known)")
    rate_window_s: float = Field(default=RATE_WINDOW, description="the seconds results_per_s was counted over")
    same_window: bool = Field(default=False, description="results_per_s and inference_fps were counted over the "
                                                         "same seconds (between the thing's last two info messages)")
    expected_fps: float | None = None
    behind: bool | None = None


class FleetSnapshot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    broker: str
    connected: bool
    time: float
    offline_after: float
    things: list[ThingView]
    forgotten: int = Field(description="things dropped to stay within max_things")
    online: int
    behind: int
    judged: int = Field(description="online things that report a rate to keep up with")
    full_rate_devices: float = Field(description="sum of min(1, fps / expected) over the judged")
    sustained: int | None = Field(description="full_rate_devices rounded down (None: none judged)")
    keep_up: float = Field(default=KEEP_UP, description="a thing keeps up at this share of its expected rate or "
                                                        "more; below it, it is falling behind")


@dataclass
class _Thing:
    name: str
    last_seen: float = 0.0
    result: str | None = None
    results: int = 0
    recent: ResultRate | None = None
    lambda_state: str | None = None
    restarts: int = 0
    last_event: str | None = None
    alert: str | None = None
    alerts: int = 0
    alert_time: float | None = None
    thumbnail: bytes | None = None
    thumbnail_seq: int = 0
    thumbnail_time: float | None = None
    info: DeviceInfo | None = None
    info_at: float = 0.0  # when the info arrived here
    mark: Mark | None = None  # the counts when the last info with an inference counter arrived
    shared: SharedRates | None = None  # results and inferences per second between the last two such infos
    active_at: float = 0.0  # when its last result, event or thumbnail arrived here


def _cut(payload: bytes) -> str:
    text = payload[: RESULT_CHARS * 4].decode("utf-8", "replace")
    return text if len(text) <= RESULT_CHARS else text[: RESULT_CHARS - 1] + "…"


class FleetWatcher:
    def __init__(self, link_factory: LinkFactory | None = None, *, host: str | None = None, port: int = 1883,
                 tls: TlsFiles | None = None, username: str | None = None, password: str | None = None,
                 offline_after: float = OFFLINE_AFTER, max_things: int = MAX_THINGS,
                 rate_window: float = RATE_WINDOW) -> None:
        if link_factory is None:
            if host is None:
                raise ValueError("give a link factory or a host")
            def link_factory(client_id: str) -> MqttLink:
                return MqttLink(host, port, client_id=client_id, tls=tls, username=username, password=password)
        self._factory = link_factory
        self.offline_after, self.max_things, self.rate_window = offline_after, max_things, rate_window
        self._things: OrderedDict[str, _Thing] = OrderedDict()
        self._lock = threading.Lock()
        self.forgotten = 0
        self.ignored = 0  # messages that were not understood
        self.link: MqttLink | None = None
        self.broker = f"{host}:{port}" if host is not None else ""

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> FleetWatcher:
        link = self._factory("fleet-watcher")
        if not self.broker:
            self.broker = f"{link.host}:{link.port}"
        for topic_filter, handler in ((INFER_FILTER, self._on_result), (STATUS_FILTER, self._on_status),
                                      (THUMBNAIL_FILTER, self._on_thumbnail), (INFO_FILTER, self._on_info),
                                      (ALERTS_FILTER, self._on_alert)):
            link.subscribe(topic_filter, handler)
        try:
            link.start(timeout)
        except ConnectionError as exc:
            raise SimulatorError(str(exc), hint="check the broker address (HOST:PORT), its credentials and TLS "
                                                "files") from None
        self.link = link
        return self

    def stop(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            link.stop()

    @property
    def connected(self) -> bool:
        return self.link is not None and self.link.connected.is_set()

    # -- messages --------------------------------------------------------------------------------------------
    def _thing(self, topic: str, now: float, seen: float | None = None) -> _Thing | None:
        """The record of the topic's thing (made if new), marked as seen; call with the lock held."""
        name = thing_of(topic)
        if name is None:
            self.ignored += 1
            return None
        t = self._things.get(name)
        if t is None:
            t = self._things[name] = _Thing(name)
            while len(self._things) > self.max_things:
                self._things.popitem(last=False)
                self.forgotten += 1
        if seen is None:
            seen = t.active_at = now
        if seen >= t.last_seen:
            t.last_seen = seen
            self._things.move_to_end(name)
        return t

    def _on_result(self, topic: str, payload: bytes) -> None:
        now = time.time()
        with self._lock:
            t = self._thing(topic, now)
            if t is None:
                return
            t.result = _cut(payload)
            t.results += 1
            if t.recent is None:
                t.recent = ResultRate(self.rate_window)
            t.recent.add(now)

    def _on_alert(self, topic: str, payload: bytes) -> None:
        now = time.time()
        with self._lock:  # an alert is about the thing, not from it: it does not make the thing look alive
            name = thing_of(topic)
            t = self._things.get(name) if name is not None else None
            if t is None:
                t = self._thing(topic, now, seen=0.0)
            if t is not None:
                t.alert, t.alerts, t.alert_time = _cut(payload), t.alerts + 1, now

    def _on_status(self, topic: str, payload: bytes) -> None:
        try:
            event = parse_event(json.loads(payload))
        except (ValueError, ValidationError):
            self.ignored += 1
            return
        with self._lock:
            t = self._thing(topic, time.time())
            if t is None:
                return
            t.last_event = event.describe()
            t.lambda_state = {LambdaStarted: "running", LambdaRestarting: "restarting", LambdaHung: "hung",
                              LambdaKilled: "killed", LambdaFailing: "failing"}.get(type(event), "stopped")
            if isinstance(event, LambdaStarted | LambdaRestarting):
                t.restarts = event.restarts

    def _on_thumbnail(self, topic: str, payload: bytes) -> None:
        if not payload.startswith(b"\xff\xd8") or len(payload) > MAX_THUMBNAIL:  # JPEGs only, small ones
            self.ignored += 1
            return
        now = time.time()
        with self._lock:
            t = self._thing(topic, now)
            if t is None:
                return
            t.thumbnail, t.thumbnail_seq, t.thumbnail_time = bytes(payload), t.thumbnail_seq + 1, now

    def _on_info(self, topic: str, payload: bytes) -> None:
        if not payload:  # a retained message cleared
            return
        try:
            info = DeviceInfo.model_validate_json(payload)
        except ValidationError:
            self.ignored += 1
            return
        now = time.time()
        with self._lock:  # a retained info from long ago must not make the thing look alive
            t = self._thing(topic, now, seen=min(info.time, now))
            if t is None:
                return
            t.info, t.info_at = info, now
            if not info.online or info.inferences is None:
                t.mark = t.shared = None
                return
            mark = Mark(arrived=now, results=t.results, sent=info.time, inferences=info.inferences)
            t.shared = shared_rates(t.mark, mark) if t.mark is not None else None
            t.mark = mark

    # -- what viewers read -----------------------------------------------------------------------------------
    def thumbnail(self, thing: str) -> tuple[int, bytes] | None:
        with self._lock:
            t = self._things.get(thing)
            if t is None or t.thumbnail is None:
                return None
            return t.thumbnail_seq, t.thumbnail

    def _view(self, t: _Thing, now: float) -> ThingView:
        info = t.info
        fresh = info is not None and info.online and now - info.time < self.offline_after
        ago = max(0.0, now - t.last_seen)
        lambda_state = t.lambda_state or (info.lambda_state if fresh and info else None)
        shared = t.shared if fresh and still_current(t.shared, now) else None
        inference_fps: float | None
        if shared is not None:
            results_per_s, inference_fps, window = shared.results_per_s, shared.inferences_per_s, shared.seconds
        else:
            results_per_s = t.recent.rate(now) if t.recent is not None else 0.0
            inference_fps, window = (info.inference_fps if fresh and info else None), self.rate_window
        behind = info.behind if fresh and info else None  # None: the device does not judge itself yet
        if behind is not None and shared is not None and info is not None:
            behind = is_behind(inference_fps, info.expected_fps)  # judged on the rate the tile shows
        if info is not None and not info.online and t.info_at >= t.active_at:
            badge: Badge = "stopped"
        elif ago > self.offline_after:
            badge = "offline"
        elif lambda_state in LAMBDA_TROUBLE:
            badge = "lambda"
        elif lambda_state == "stopped":
            badge = "idle"
        elif behind:
            badge = "behind"
        elif t.results == 0 and (info is None or not info.inference_fps):
            badge = "waiting"
        else:
            badge = "ok"
        return ThingView(
            thing=t.name, badge=badge, last_seen=t.last_seen, seen_ago_s=round(ago, 1), result=t.result,
            results=t.results, results_per_s=results_per_s, lambda_state=lambda_state,
            restarts=max(t.restarts, (info.restarts or 0) if info else 0),
            last_event=t.last_event, alert=t.alert, alerts=t.alerts, alert_time=t.alert_time,
            thumbnail_seq=t.thumbnail_seq, thumbnail_time=t.thumbnail_time,
            viewer=info.viewer if info else None, profile=info.profile if info else None,
            project=info.project if info else None, source=info.source if info else None,
            inference_fps=inference_fps, rate_window_s=window, same_window=shared is not None,
            expected_fps=info.expected_fps if info else None,
            behind=behind)

    def snapshot(self) -> FleetSnapshot:
        now = time.time()
        with self._lock:
            views = sorted((self._view(t, now) for t in self._things.values()), key=lambda v: v.thing)
        online = [v for v in views if v.badge not in ("offline", "stopped")]
        judged = [v for v in online if v.badge != "idle" and v.behind is not None and v.expected_fps
                  and v.inference_fps is not None]
        full = sum(min(1.0, (v.inference_fps or 0.0) / v.expected_fps) for v in judged if v.expected_fps)
        return FleetSnapshot(
            broker=self.broker, connected=self.connected, time=now, offline_after=self.offline_after,
            things=views, forgotten=self.forgotten, online=len(online), behind=sum(1 for v in judged if v.behind),
            judged=len(judged), full_rate_devices=round(full, 2), sustained=math.floor(full + 1e-9) if judged else None)
