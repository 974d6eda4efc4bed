"""A real fleet: three simulated devices (the tiny Lambda on a real clip) on one broker, one shared decoder, one
viewer each and the fleet page — plus a second simulator publishing to the fleet's broker — seen through real
MQTT, real HTTP and a real headless Chromium; and nothing left running once it stops."""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.request

import psutil
import pytest

from simulator.config import RunConfig
from simulator.core import SimulatedDevice
from simulator.fleet.runner import Fleet, FleetOptions
from simulator.fleet.watcher import FleetWatcher
from tests.conftest import ROOT
from tests.support.needs import unavailable
from tests.support.waits import wait_for_value

LAMBDA = str(ROOT / "tests/lambdas/style2018")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def get_bytes(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read()
    except urllib.error.HTTPError:
        return None


def wait_until(predicate, timeout: float, what: str):
    return wait_for_value(predicate, timeout, what, every=0.2)


@pytest.fixture(scope="module")
def classroom(tiny_artifacts, video_file):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    fleet = Fleet(FleetOptions(devices=3, sources=[str(video_file)], project=LAMBDA, artifacts=tiny_artifacts,
                               http_port=0, mqtt_port=0, baseline_seconds=2))
    visitor = None
    try:
        fleet.start()
        visitor = SimulatedDevice(RunConfig(project=LAMBDA, source=str(video_file), artifacts=tiny_artifacts,
                                            thing_name="visitor-01", broker=f"127.0.0.1:{fleet.devices[0].mqtt_port}",
                                            http_port=0, profile="host")).start()
        yield fleet, visitor, before
    finally:
        if visitor is not None:
            visitor.stop()
        fleet.stop()


def fleet_api(fleet: Fleet) -> dict:
    return get_json(f"http://127.0.0.1:{fleet.server.port}/api/fleet")


def test_three_devices_three_things_and_the_second_simulator_on_one_page(classroom):
    fleet, visitor, _ = classroom
    names = [d.thing_name for d in fleet.devices]
    assert names == ["student-01", "student-02", "student-03"]
    assert {d.mqtt_port for d in fleet.devices} == {fleet.devices[0].mqtt_port}  # one broker
    assert fleet.devices[0].broker is not None and all(d.broker is None for d in fleet.devices[1:])
    things = {*names, "visitor-01"}

    def all_producing():
        snap = fleet_api(fleet)
        tiles = {t["thing"]: t for t in snap["things"]}
        return snap if set(tiles) == things and all(t["results"] > 0 for t in tiles.values()) else None

    snap = wait_until(all_producing, 60, "results from all four things")
    tiles = {t["thing"]: t for t in snap["things"]}
    assert '"style": 2018' in tiles["visitor-01"]["result"] and tiles["visitor-01"]["badge"] != "offline"
    # each fleet device says where its own viewer is, and that viewer is that device's
    for device, viewer in zip(fleet.devices, fleet.viewers, strict=True):
        tile = wait_until(lambda d=device: next((t for t in fleet_api(fleet)["things"] if t["thing"] == d.thing_name
                                                 and t["viewer"] and t["expected_fps"]), None), 20, "viewer URL")
        assert tile["viewer"] == f"http://127.0.0.1:{viewer.port}/"
        assert get_json(tile["viewer"] + "api/status")["thing_name"] == device.thing_name
        assert tile["profile"] == "host" and tile["project"] == "style2018"
        assert tile["expected_fps"] == pytest.approx(fleet.baseline, rel=0.01)
    assert len({v.port for v in fleet.viewers} | {fleet.server.port}) == 4
    report = fleet.capacity()
    assert report.devices == 3 and fleet.baseline is not None and fleet.baseline > 0
    # the devices share the cores out: each Lambda's OpenVINO runs the threads it was given, unpinned
    threads = fleet.options.threads_per_device()
    assert threads is not None and threads >= 1
    for device in fleet.devices:
        runs_on = wait_until(lambda d=device: d.status().inference.runs_on, 20, f"{device.thing_name}'s model")
        assert runs_on == f"CPU (f32, {threads} thread{'s' if threads != 1 else ''})"
    runs_on = wait_until(lambda: visitor.status().inference.runs_on, 20, "the visitor's model")
    assert runs_on == "CPU (f32)"  # a device of its own keeps OpenVINO's default


def test_one_decoder_for_the_three_cameras(classroom):
    fleet, _, _ = classroom
    [fan] = fleet.sources.fanouts.values()
    assert fan.opens == 1 and fan.clients == 3
    cameras = [d.camera for d in fleet.devices]
    d0, f0 = fan.decoded, [c.stats.frames for c in cameras]
    time.sleep(3)
    d1, f1 = fan.decoded, [c.stats.frames for c in cameras]
    decoded, delivered = d1 - d0, [b - a for a, b in zip(f0, f1, strict=True)]
    assert decoded >= 30  # the clip plays at 30 fps
    assert all(n <= decoded + 1 for n in delivered)  # no camera gets a frame that was not decoded
    assert sum(delivered) >= 2 * decoded  # decoded once, shown three times over
    assert all(d.source_description.endswith("(shared)") for d in fleet.devices)


def test_thumbnails_arrive_and_change(classroom):
    fleet, _, _ = classroom
    url = f"http://127.0.0.1:{fleet.server.port}/api/fleet/student-02/thumbnail.jpg"
    seen: set[bytes] = set()

    def two_distinct():
        body = get_bytes(url)
        if body:
            assert body[:2] == b"\xff\xd8"
            seen.add(body)
        return len(seen) >= 2

    wait_until(two_distinct, 20, "two distinct thumbnails")
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(next(iter(seen)), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[1] == 320


def test_fleet_page_in_chromium_shows_the_tiles_and_opens_a_device(classroom, tmp_path):
    fleet, _, _ = classroom
    if CHROMIUM is None:
        unavailable("chromium", "apt-get install chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(fleet.server.url, wait_until="domcontentloaded")
            page.wait_for_function("document.querySelectorAll('.tile').length === 4", timeout=30000)
            names = page.locator(".tile .name").all_text_contents()
            assert names == ["student-01", "student-02", "student-03", "visitor-01"]
            page.wait_for_function("[...document.querySelectorAll('.tile img')].some(i => i.naturalWidth === 320)",
                                   timeout=30000)
            assert "results/s" in page.text_content(".tile[data-thing='student-01']")
            page.screenshot(path=str(tmp_path / "fleet.png"))
            with page.context.expect_page(timeout=15000) as popup:
                page.click(".tile[data-thing='student-03']")
            opened = popup.value
            opened.wait_for_load_state("domcontentloaded")
            assert opened.url == f"http://127.0.0.1:{fleet.viewers[2].port}/"
        finally:
            browser.close()


def test_stopping_leaves_nothing_running(classroom):
    fleet, visitor, before = classroom
    lambdas = [d.supervisor.status.pid for d in fleet.devices if d.supervisor is not None]
    assert len(lambdas) == 3 and all(psutil.pid_exists(p) for p in lambdas)
    ports = [fleet.server.port, *(v.port for v in fleet.viewers), fleet.devices[0].mqtt_port]
    [fan] = fleet.sources.fanouts.values()
    outside = FleetWatcher(fleet.devices[0].new_link).start()  # an instructor watching the fleet's broker
    students = [d.thing_name for d in fleet.devices]
    wait_until(lambda: {v.thing for v in outside.snapshot().things} >= set(students), 20, "the outside watcher")
    visitor.stop()
    fleet.stop()
    fleet.stop()  # twice is harmless
    badges = {v.thing: v.badge for v in outside.snapshot().things}
    outside.stop()
    assert [badges[t] for t in students] == ["stopped"] * 3, badges  # each said so before it went
    assert fan.clients == 0 and fan._thread is None
    left = wait_until(lambda: not [p for p in psutil.Process().children(recursive=True)
                                   if p.pid not in before and p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
                      or None, 10, "child processes gone")
    assert left
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still listening"
