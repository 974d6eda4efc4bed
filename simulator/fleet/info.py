"""What a device tells an instructor about itself: a retained JSON message on ``deeplens/<thing>/info`` —
where its web viewer is, its profile, project and source, and its inference rate against the rate it should
reach — published at start, every ``period`` seconds while it runs, and once more with ``online: false`` when
it stops. Retained, so a watcher that connects later learns every device at once.

    info = InfoPublisher(device.status, device.link.publish, device.thing_name).start()
    info.set_viewer(viewer.url)       # once the viewer listens
    info.stop()                       # publishes online: false (before the MQTT link stops)

The viewer URL is published without its access token (anyone on the broker would see it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from simulator.fleet.capacity import KEEP_UP, is_behind, paced_rate, percent, settled
from simulator.fleet.topics import info_topic
from simulator.status import DeviceStatus

log = logging.getLogger(__name__)

PERIOD = 5.0


class DeviceInfo(BaseModel):
    """The JSON on ``deeplens/<thing>/info``. Read with unknown fields ignored (a newer simulator may add some)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    thing: str
    viewer: str | None = Field(default=None, description="the device's web viewer (its streams), if it has one")
    profile: str | None = None
    project: str | None = None
    source: str | None = None
    online: bool = Field(default=True, description="False once the device stopped")
    time: float = Field(description="when it was published (Unix seconds, the device's clock)")
    inference_fps: float | None = Field(default=None, description="inferences per second (None: not settled)")
    inferences: int | None = Field(default=None, description="inferences its Lambda has run so far (a counter: a "
                                                             "watcher takes the rate between two infos from it)")
    expected_fps: float | None = Field(default=None, description="the rate it should reach (the profile's, or "
                                                                 "the single-device rate of a fleet)")
    behind: bool | None = Field(default=None, description=f"below {percent(KEEP_UP)} of expected_fps (None: not "
                                                          "judged)")
    lambda_state: str | None = Field(default=None, description="the supervisor's state of its Lambda: stopped once "
                                                               "a deployed Lambda was stopped (None: none deployed "
                                                               "yet)")
    restarts: int | None = None


def strip_token(url: str | None) -> str | None:
    """The URL without its query (the viewer's ``?token=…``)."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


class InfoPublisher:
    """``status`` is ``SimulatedDevice.status``; ``publish`` is ``MqttLink.publish`` (topic, payload, retain=...);
    ``expected(status)`` the rate to keep up with (default: the paced profile's)."""

    def __init__(self, status: Callable[[], DeviceStatus], publish: Callable[..., Any], thing: str,
                 viewer: str | None = None, expected: Callable[[DeviceStatus], float | None] = paced_rate,
                 period: float = PERIOD) -> None:
        self.status, self.publish, self.thing = status, publish, thing
        self.viewer = strip_token(viewer)
        self.expected = expected
        self.period = period
        self.topic = info_topic(thing)
        self.published = 0
        self._had_lambda = False  # a Lambda was deployed: once none is, it was stopped
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> InfoPublisher:
        self.publish_now()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"info {self.thing}", daemon=True)
        self._thread.start()
        return self

    def set_viewer(self, url: str | None) -> None:
        self.viewer = strip_token(url)
        self.publish_now()

    def set_expected(self, expected: Callable[[DeviceStatus], float | None]) -> None:
        self.expected = expected

    def stop(self) -> None:
        """Stop refreshing and say the device is offline (call it while the MQTT link is still up)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
            self.publish_now(online=False)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.publish_now()

    def current(self, online: bool = True) -> DeviceInfo:
        status = self.status()
        expected = self.expected(status)
        lam = status.lambda_
        fps = status.inference.fps if settled(status) and lam is not None else None  # no Lambda: nothing to judge
        self._had_lambda = self._had_lambda or lam is not None
        return DeviceInfo(thing=self.thing, viewer=self.viewer, profile=status.profile, project=status.project,
                          source=status.source, online=online, time=time.time(), inference_fps=fps,
                          inferences=status.inference.inferences,
                          expected_fps=round(expected, 2) if expected else None,
                          behind=is_behind(fps, expected) if online else None,
                          lambda_state=lam.state if lam is not None else "stopped" if self._had_lambda else None,
                          restarts=lam.restarts if lam is not None else None)

    def publish_now(self, online: bool = True) -> None:
        try:
            info = self.current(online)
            self.publish(self.topic, info.model_dump_json(exclude_none=False).encode(), retain=True)
            self.published += 1
        except Exception:  # noqa: BLE001 - the device runs on without its info
            log.exception("publishing the info of %s failed", self.thing)
