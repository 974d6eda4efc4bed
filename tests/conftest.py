"""Shared fixtures: an isolated data folder, f32 inference, real broker/device/viewer, real MQTT subscribers."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from simulator.ipc.mqtt import disconnect_and_stop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Repeatable numbers: OpenVINO's CPU plugin runs bf16 on AMX CPUs unless told otherwise (Lambda processes inherit it).
os.environ["DEEPLENS_SIM_PRECISION"] = "f32"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def sim_home(tmp_path_factory) -> Path:
    """Thing name, shadows and artifacts of the tests live in a temporary folder (the model cache is shared)."""
    home = tmp_path_factory.mktemp("sim-home")
    os.environ["DEEPLENS_SIM_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def tiny_artifacts(tmp_path_factory) -> Path:
    from tests.support.tiny_model import build_tiny_classifier

    folder = tmp_path_factory.mktemp("artifacts")
    build_tiny_classifier(folder)
    return folder


@pytest.fixture(scope="session")
def video_file(tmp_path_factory) -> Path:
    """A real 3 s mp4 clip: red, green then blue frames with a moving white square."""
    import cv2
    import numpy as np

    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 360))
    for i in range(90):
        frame = np.zeros((360, 640, 3), np.uint8)
        frame[:, :] = [(0, 0, 230), (0, 230, 0), (230, 0, 0)][i // 30]
        cv2.rectangle(frame, (10 + 5 * i, 150), (60 + 5 * i, 200), (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def start_broker():
    """``start_broker(hosted_things=(), **BrokerSettings fields)``: a started embedded broker, on a free loopback port
    unless told otherwise (every one is stopped after the test)."""
    from simulator.broker.embedded import EmbeddedBroker
    from simulator.broker.settings import BrokerSettings

    made: list[EmbeddedBroker] = []

    def make(hosted_things=(), **settings) -> EmbeddedBroker:
        settings.setdefault("port", 0)
        made.append(EmbeddedBroker.from_settings(BrokerSettings(**settings), hosted_things).start())
        return made[-1]

    yield make
    for b in reversed(made):
        b.stop()


@pytest.fixture
def broker(start_broker):
    """A started embedded broker with the default settings, on a free loopback port."""
    return start_broker()


class Subscriber:
    """A real paho-mqtt client that records what arrives on a topic filter."""

    def __init__(self, port: int, topic_filter: str) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes]] = []
        self._cond = threading.Condition()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{id(self)}")
        subscribed = threading.Event()
        self._client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(topic_filter, qos=1)
        self._client.on_subscribe = lambda *a: subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        assert subscribed.wait(10), f"could not subscribe to {topic_filter}"

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            self.messages.append((msg.topic, msg.payload))
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 60.0):
        """The first (topic, payload) satisfying predicate; fails the test after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages:
                    if predicate(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no matching message within {timeout} s; got {self.messages[-5:]}")
                self._cond.wait(left)

    def stop(self) -> None:
        disconnect_and_stop(self._client)


@pytest.fixture
def clients():
    """clients(port, username=None, password=None, tls_ca=None) -> a recording paho client (stopped after)."""
    from tests.support.broker_clients import Client

    made: list[Client] = []

    def make(port: int, *args, **kw) -> Client:
        made.append(Client(port, *args, **kw))
        return made[-1]

    yield make
    for c in made:
        c.stop()


@pytest.fixture
def subscribe():
    subs: list[Subscriber] = []

    def make(port: int, topic_filter: str) -> Subscriber:
        sub = Subscriber(port, topic_filter)
        subs.append(sub)
        return sub

    yield make
    for s in subs:
        s.stop()


@pytest.fixture
def run_device():
    """Start a SimulatedDevice (+ its web viewer) on free ports; everything is stopped after the test."""
    from simulator.config import RunConfig
    from simulator.core import SimulatedDevice
    from simulator.viewer.server import ViewerServer

    started = []

    def make(**overrides):
        settings = {"mqtt_port": 0, "http_port": 0, "profile": "host"}
        settings.update(overrides)
        device = SimulatedDevice(RunConfig(**settings)).start()
        viewer = ViewerServer(device, "127.0.0.1", 0).start()
        started.append((device, viewer))
        return device, viewer

    yield make
    for device, viewer in reversed(started):
        viewer.stop()
        device.stop()


def pytest_collection_finish(session):
    """The Raspberry Pi resolutions (tests/test_requirements.py) mostly wait on downloads: when they are selected,
    start them now, so they run beside the other tests rather than after them."""
    if any(item.nodeid.startswith("tests/test_requirements.py") and item.get_closest_marker("network")
           for item in session.items):
        from tests.support.pi_resolution import start_resolutions, stop_resolutions

        start_resolutions()
        session.config.add_cleanup(stop_resolutions)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A ``network`` test whose models could not be fetched follows tests/support/needs.py: skipped on a
    developer's machine, failed under CI=true."""
    outcome = yield
    if item.get_closest_marker("network") is None or outcome.excinfo is None:
        return
    from simulator.errors import ModelNotFoundError
    from tests.support.needs import in_ci

    exc = outcome.excinfo[1]
    if isinstance(exc, ModelNotFoundError) and "models fetch" in (exc.hint or "") and not in_ci():
        outcome.force_exception(pytest.skip.Exception(f"the bundled models are unavailable: {exc.message}",
                                                      _use_item_location=True))
