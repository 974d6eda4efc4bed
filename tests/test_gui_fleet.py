"""The window's Fleet tab (offscreen Qt): tiles fed by a real FleetWatcher on a real broker, another broker
typed in, a tile click opening the device's viewer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

fleet_panel = pytest.importorskip("gui.fleet_panel")  # the window's parts (PySide6) are an optional install

from simulator.broker.embedded import EmbeddedBroker  # noqa: E402
from simulator.fleet.info import DeviceInfo  # noqa: E402
from simulator.fleet.topics import info_topic, thumbnail_topic  # noqa: E402
from simulator.ipc.mqtt import MqttLink  # noqa: E402
from simulator.ipc.topics import infer_topic  # noqa: E402

LEFT = fleet_panel.Qt.MouseButton.LeftButton


@pytest.fixture
def brokers():
    started = [EmbeddedBroker("127.0.0.1", 0).start() for _ in range(2)]
    links = [MqttLink("127.0.0.1", b.port, client_id="panel-test").start() for b in started]
    yield list(zip(started, links, strict=True))
    for link in links:
        link.stop()
    for b in started:
        b.stop()


def keep_publishing(qtbot, link: MqttLink, thing: str, until, viewer: str | None = None) -> None:
    """Publish a result, a thumbnail and the thing's info until ``until()`` (the watcher may still be subscribing)."""
    picture = cv2.imencode(".jpg", np.full((180, 320, 3), 120, np.uint8))[1].tobytes()
    deadline = time.monotonic() + 20
    while not until():
        assert time.monotonic() < deadline, f"the panel never showed {thing}"
        link.publish(infer_topic(thing), json.dumps({"thing": thing, "people": 2}))
        link.publish(thumbnail_topic(thing), picture)
        link.publish(info_topic(thing), DeviceInfo(thing=thing, viewer=viewer, profile="host", project="people_counter",
                                                   time=time.time()).model_dump_json(), retain=True)
        qtbot.wait(300)


def test_fleet_tab_shows_tiles_switches_broker_and_opens_a_viewer(qtbot, brokers):
    (broker_a, link_a), (broker_b, link_b) = brokers
    device = SimpleNamespace(mqtt_host="127.0.0.1", mqtt_port=broker_a.port,
                             new_link=lambda cid: MqttLink("127.0.0.1", broker_a.port, client_id=cid))
    panel = fleet_panel.FleetPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    opened: list[str] = []
    panel.open_viewer = opened.append
    try:
        panel.watch_device(device)
        keep_publishing(qtbot, link_a, "room-a", lambda: "room-a" in panel.tiles and
                        panel.tiles["room-a"].thumbnail_seq > 0 and "people" in panel.tiles["room-a"].result.text(),
                        viewer="http://127.0.0.1:8081/")
        tile = panel.tiles["room-a"]
        assert '"people": 2' in tile.result.text() and tile.badge.text() == "online"
        assert not tile.picture.pixmap().isNull() and "people_counter on host" in tile.meta.text()
        assert f"Broker 127.0.0.1:{broker_a.port}" in panel.summary.text()
        qtbot.mouseClick(tile, LEFT)
        assert opened == ["http://127.0.0.1:8081/"]

        panel.broker_field.setText("not a broker")
        panel.watch_button.click()
        assert "expected HOST:PORT" in panel.summary.text() and "room-a" in panel.tiles  # still watching A

        panel.broker_field.setText(f"127.0.0.1:{broker_b.port}")
        panel.watch_button.click()
        assert panel.tiles == {} and "Connecting" in panel.summary.text()  # answered at once, connects behind
        keep_publishing(qtbot, link_b, "room-b", lambda: "room-b" in panel.tiles)
        assert set(panel.tiles) == {"room-b"} and panel.watcher.broker == f"127.0.0.1:{broker_b.port}"
        qtbot.mouseClick(panel.tiles["room-b"], LEFT)  # it said no viewer: nothing opens
        assert opened == ["http://127.0.0.1:8081/"]

        panel.broker_field.clear()  # back to the device's broker, then the device stops
        panel.watch_field()
        qtbot.waitUntil(lambda: panel.watcher is not None and panel.watcher.broker == f"127.0.0.1:{broker_a.port}")
        panel.watch_device(None)
        assert panel.watcher is None and panel.tiles == {} and "stopped" in panel.summary.text()
    finally:
        panel.shutdown()
    assert panel.watcher is None


def test_a_tile_shows_a_stopped_lambda_and_rates_over_the_same_seconds(qtbot, brokers, tmp_path):
    from gui.app import application
    from gui.theme import GOOD, MUTED
    from simulator.events import LambdaStarted, LambdaStopped
    from simulator.fleet.capacity import KEEP_UP
    from simulator.ipc.topics import status_topic
    from tests.test_fleet_tiles import Device

    application()  # themed, as the user sees it
    (broker, link), _ = brokers
    device = SimpleNamespace(mqtt_host="127.0.0.1", mqtt_port=broker.port,
                             new_link=lambda cid: MqttLink("127.0.0.1", broker.port, client_id=cid))
    panel = fleet_panel.FleetPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    started = json.dumps(LambdaStarted(**{"lambda": "lambda_function"}, pid=7, restarts=0).as_json())
    stopped = json.dumps(LambdaStopped(**{"lambda": "lambda_function"}).as_json())
    try:
        panel.watch_device(device)
        with Device(link, "cam-rate", expected_fps=1.0, behind=False):
            keep_publishing(qtbot, link, "cam-stop", lambda: "cam-stop" in panel.tiles  # a result too, not only
                            and "people" in panel.tiles["cam-stop"].result.text())  # its thumbnail: not "waiting"
            link.publish(status_topic("cam-stop"), started)
            qtbot.waitUntil(lambda: "cam-rate" in panel.tiles
                            and "both over the same" in panel.tiles["cam-rate"].meta.text(), timeout=20000)
            rates = panel.tiles["cam-rate"].meta.text().splitlines()[0]
            results, inferences = (float(rates.split(" results/s")[0]),
                                   float(rates.split(" · ")[1].split(" inferences/s")[0]))
            assert inferences != 4.0 and abs(results - inferences) <= 0.1 * inferences + 0.1, rates
            assert f"(each at {KEEP_UP * 100:.0f} % of it or more)" in panel.summary.text()  # all keep up

            tile = panel.tiles["cam-stop"]
            qtbot.waitUntil(lambda: tile.badge.text() == "online", timeout=10000)
            link.publish(status_topic("cam-stop"), stopped)
            qtbot.waitUntil(lambda: tile.badge.text() == "Lambda stopped", timeout=10000)
            assert MUTED in tile.badge.styleSheet() and GOOD not in tile.badge.styleSheet()
            assert tile.badge.geometry().right() <= tile.contentsRect().right()
            assert "Lambda stopped" in tile.meta.text()
            shots = Path("/tmp/fleet_fix")
            shots.mkdir(parents=True, exist_ok=True)
            qtbot.wait(300)
            for name, widget in (("tile_stopped", tile), ("tile_rates", panel.tiles["cam-rate"]), ("panel", panel)):
                assert widget.grab().save(str(shots / f"{name}.png"))
            badge = tile.badge.grab().toImage()
            pixels = [badge.pixelColor(x, y) for x in range(badge.width()) for y in range(badge.height())]
            inked = [c for c in pixels if c.lightness() > 90]
            mean = [sum(getattr(c, part)() for c in inked) / len(inked) for part in ("red", "green", "blue")]
            assert inked and abs(mean[1] - mean[0]) < 30, mean  # grey text, not the online green (95, 211, 141)
    finally:
        panel.shutdown()
