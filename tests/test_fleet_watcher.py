"""The instructor's model on a real broker: results, status events, thumbnails and info of any thing; offline
after silence; bounded; served over real HTTP by the fleet routes; thumbnails published once a second."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from simulator.events import LambdaRestarting, LambdaStarted
from simulator.fleet.info import DeviceInfo, strip_token
from simulator.fleet.server import FleetServer
from simulator.fleet.thumbnail import ThumbnailPublisher, make_thumbnail
from simulator.fleet.topics import info_topic, thumbnail_topic
from simulator.fleet.watcher import FleetWatcher
from simulator.ipc.mqtt import MqttLink
from simulator.ipc.topics import infer_topic, status_topic
from tests.support.waits import wait_for_value as wait_until

pytest_plugins = ["tests.fleet.fixtures"]


def subscribed(watcher: FleetWatcher, link: MqttLink) -> FleetWatcher:
    """Wait until the watcher's subscriptions are in place (a probe it ignores gets through)."""
    deadline = time.monotonic() + 10
    while watcher.ignored == 0:
        assert time.monotonic() < deadline, "the watcher never subscribed"
        link.publish(thumbnail_topic("probe"), b"probe")
        time.sleep(0.1)
    watcher.ignored = 0
    return watcher


def jpeg(color: tuple[int, int, int], width: int = 640) -> bytes:
    image = np.zeros((width * 9 // 16, width, 3), np.uint8)
    image[:] = color
    return cv2.imencode(".jpg", image)[1].tobytes()


def view(watcher: FleetWatcher, thing: str):
    return next((v for v in watcher.snapshot().things if v.thing == thing), None)


def test_watcher_keeps_results_events_thumbnails_and_info_per_thing(broker, link):
    watcher = subscribed(FleetWatcher(host="127.0.0.1", port=broker.port).start(), link)
    try:
        started = LambdaStarted(**{"lambda": "lambda_function"}, pid=42, restarts=0)
        restarting = LambdaRestarting(**{"lambda": "lambda_function"}, exit_code=1, error="boom", ran_seconds=2,
                                      restarts=3, delay=4)
        link.publish(status_topic("alpha"), json.dumps(started.as_json()))
        link.publish(status_topic("beta"), json.dumps(restarting.as_json()))
        for i in range(20):
            link.publish(infer_topic("alpha"), json.dumps({"hotdog": 0.9, "n": i, "pad": "x" * 400}))
        link.publish(thumbnail_topic("alpha"), jpeg((0, 0, 255)))
        link.publish(thumbnail_topic("alpha"), b"not a jpeg")  # ignored
        link.publish(status_topic("alpha"), b"{not json")  # ignored
        info = DeviceInfo(thing="beta", viewer="http://127.0.0.1:8081/", profile="raspberry-pi-4",
                          project="hotdog", time=time.time(), inference_fps=2.0, expected_fps=5.0, behind=True)
        link.publish(info_topic("beta"), info.model_dump_json(), retain=True)
        link.publish("deeplens/alpha/alerts", json.dumps({"thing": "alpha", "people": 3, "was": 1}))
        a = wait_until(lambda: (v := view(watcher, "alpha")) and v.results == 20 and v.thumbnail_seq and v)
        assert a.badge == "ok" and a.lambda_state == "running" and a.restarts == 0
        assert '"n": 19' in a.result and len(a.result) == 240 and a.result.endswith("…")
        assert a.results_per_s > 0 and a.viewer is None
        a = wait_until(lambda: (v := view(watcher, "alpha")) and v.alerts == 1 and v)
        assert '"people": 3' in a.alert
        assert watcher.thumbnail("alpha") == (1, jpeg((0, 0, 255)))
        b = wait_until(lambda: (v := view(watcher, "beta")) and v.viewer and v)
        assert b.lambda_state == "restarting" and b.restarts == 3 and "boom" in b.last_event
        assert b.badge == "lambda" and b.behind and b.profile == "raspberry-pi-4" and b.project == "hotdog"
        link.publish(status_topic("beta"), json.dumps(started.as_json()))  # it came back: now it is behind
        b = wait_until(lambda: (v := view(watcher, "beta")) and v.lambda_state == "running" and v)
        assert b.badge == "behind" and b.restarts == 0
        assert b.viewer == "http://127.0.0.1:8081/" and watcher.thumbnail("beta") is None
        snap = watcher.snapshot()
        assert [v.thing for v in snap.things] == ["alpha", "beta"] and snap.connected
        assert snap.judged == 1 and snap.behind == 1 and snap.sustained == 0
        assert watcher.ignored >= 2
        json.loads(snap.model_dump_json())  # JSON-ready
    finally:
        watcher.stop()
    # a watcher that connects later learns the device from its retained info
    late = FleetWatcher(host="127.0.0.1", port=broker.port).start()
    try:
        b = wait_until(lambda: view(late, "beta"))
        assert b.viewer == "http://127.0.0.1:8081/" and view(late, "alpha") is None
    finally:
        late.stop()


def test_offline_after_silence_and_stopped_when_it_says_so(broker, link):
    watcher = subscribed(FleetWatcher(host="127.0.0.1", port=broker.port, offline_after=1.0).start(), link)
    try:
        link.publish(infer_topic("quiet"), b'{"x": 1}')
        link.publish(infer_topic("leaving"), b'{"x": 1}')
        wait_until(lambda: (v := view(watcher, "quiet")) and v.badge == "ok")
        link.publish(info_topic("leaving"), DeviceInfo(thing="leaving", online=False, time=time.time())
                     .model_dump_json(), retain=True)
        assert wait_until(lambda: (v := view(watcher, "leaving")) and v.badge == "stopped")
        assert wait_until(lambda: (v := view(watcher, "quiet")) and v.badge == "offline")
        link.publish(infer_topic("quiet"), b'{"x": 2}')  # back
        assert wait_until(lambda: (v := view(watcher, "quiet")) and v.badge == "ok")
        stale = DeviceInfo(thing="old", time=time.time() - 3600)  # a retained info from an hour ago
        link.publish(info_topic("old"), stale.model_dump_json(), retain=True)
        assert wait_until(lambda: (v := view(watcher, "old")) and v.badge == "offline")
    finally:
        watcher.stop()


def test_at_most_max_things_the_least_recently_seen_forgotten(broker, link):
    watcher = FleetWatcher(lambda cid: MqttLink("127.0.0.1", broker.port, client_id=cid), max_things=3).start()
    subscribed(watcher, link)
    try:
        for i in range(5):
            link.publish(infer_topic(f"t{i}"), b"{}")
            wait_until(lambda i=i: view(watcher, f"t{i}"))
        link.publish(infer_topic("t2"), b"{}")  # seen again: not the oldest any more
        wait_until(lambda: view(watcher, "t2").results == 2)
        link.publish(infer_topic("t5"), b"{}")
        wait_until(lambda: view(watcher, "t5"))
        snap = watcher.snapshot()
        assert [v.thing for v in snap.things] == ["t2", "t4", "t5"] and snap.forgotten == 3
    finally:
        watcher.stop()


def test_an_unreachable_broker_is_a_clear_error():
    from simulator.errors import SimulatorError

    with pytest.raises(SimulatorError, match="cannot connect to the MQTT broker at 127.0.0.1:1"):
        FleetWatcher(host="127.0.0.1", port=1).start(timeout=2)


def get(url: str, headers: dict | None = None) -> tuple[int, bytes, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), ""


def test_fleet_routes_serve_the_page_the_snapshot_and_thumbnails(broker, link):
    watcher = subscribed(FleetWatcher(host="127.0.0.1", port=broker.port).start(), link)
    server = FleetServer(watcher, "127.0.0.1", 0).start()
    try:
        link.publish(infer_topic("cam-1"), b'{"cat": 0.7}')
        link.publish(thumbnail_topic("cam-1"), jpeg((0, 255, 0), 320))
        wait_until(lambda: (v := view(watcher, "cam-1")) and v.thumbnail_seq)
        base = f"http://127.0.0.1:{server.port}"
        status, body, kind = get(f"{base}/api/fleet")
        snap = json.loads(body)
        assert status == 200 and kind.startswith("application/json")
        assert snap["things"][0]["thing"] == "cam-1" and snap["things"][0]["result"] == '{"cat": 0.7}'
        status, body, kind = get(f"{base}/api/fleet/cam-1/thumbnail.jpg")
        assert status == 200 and kind == "image/jpeg" and body == jpeg((0, 255, 0), 320)
        assert get(f"{base}/api/fleet/nobody/thumbnail.jpg")[0] == 404
        status, body, _ = get(f"{base}/fleet")
        assert status == 200 and b"/api/fleet" in body
        assert get(f"{base}/")[0] == 200  # redirected to the page
        assert get(f"{base}/api/fleet", {"Host": "evil.example"})[0] == 403  # the viewer's host check applies
    finally:
        server.stop()
        watcher.stop()


def test_thumbnails_small_new_ones_only(broker, link):
    frames = [jpeg((255, 0, 0), 1280), jpeg((255, 0, 0), 1280), np.full((720, 1280, 3), 90, np.uint8)]
    watcher = subscribed(FleetWatcher(host="127.0.0.1", port=broker.port).start(), link)
    pub = ThumbnailPublisher(lambda: frames[0], link.publish, "cam-2", period=0.2)
    try:
        assert pub.publish_once() and not pub.publish_once()  # the same picture is not sent again
        frames.pop(0)
        assert not pub.publish_once()  # equal bytes: the same picture
        frames.pop(0)
        assert pub.publish_once() and pub.published == 2
        got = wait_until(lambda: (v := view(watcher, "cam-2")) and v.thumbnail_seq == 2 and watcher.thumbnail("cam-2"))
        image = cv2.imdecode(np.frombuffer(got[1], np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (180, 320, 3) and abs(int(image.mean()) - 90) <= 2
        counter = iter(range(10**6))
        pub.frame_source = lambda: np.full((90, 160, 3), next(counter) % 250, np.uint8)  # a new picture each time
        pub.start()
        wait_until(lambda: pub.published >= 4)
        pub.stop()
        assert make_thumbnail(np.zeros((90, 160, 3), np.uint8)) is not None  # small pictures are not enlarged
        assert cv2.imdecode(np.frombuffer(make_thumbnail(np.zeros((90, 160, 3), np.uint8)), np.uint8),
                            cv2.IMREAD_COLOR).shape == (90, 160, 3)
        assert make_thumbnail(b"junk") is None
    finally:
        pub.stop()
        watcher.stop()


def test_info_url_is_published_without_the_token():
    assert strip_token("http://pi.local:8080/?token=abc") == "http://pi.local:8080/"
    assert strip_token(None) is None
