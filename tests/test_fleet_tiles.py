"""What a fleet tile says, on a real broker, through the real watcher, the real fleet server and a real headless
Chromium: results and inferences per second over the same seconds, a distinct badge for a device whose Lambda
was stopped, and a summary that says what keeping up means (the share comes from ``KEEP_UP``)."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from simulator.events import LambdaStarted, LambdaStopped
from simulator.fleet.capacity import KEEP_UP, DeviceRate, report
from simulator.fleet.info import DeviceInfo, InfoPublisher
from simulator.fleet.server import FleetServer
from simulator.fleet.topics import info_topic, thumbnail_topic
from simulator.fleet.watcher import FleetWatcher, ThingView
from simulator.ipc.mqtt import MqttLink
from simulator.ipc.topics import infer_topic, status_topic
from simulator.status import BrokerStatus, DeviceStatus, InferenceStatus, LambdaStatus, StartupStatus
from tests.support.needs import unavailable
from tests.support.waits import wait_for_value as wait_until

pytest_plugins = ["tests.fleet.fixtures"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path("/tmp/fleet_fix")
SHARE = f"{KEEP_UP * 100:.0f} %"  # what the summary must say keeping up means


@pytest.fixture
def watcher(broker, link):
    w = FleetWatcher(host="127.0.0.1", port=broker.port).start()
    deadline = time.monotonic() + 10
    while w.ignored == 0:  # its subscriptions are in place once a probe it ignores gets through
        assert time.monotonic() < deadline, "the watcher never subscribed"
        link.publish(thumbnail_topic("probe"), b"probe")
        time.sleep(0.1)
    w.ignored = 0
    yield w
    w.stop()


def wait_for(predicate):
    return wait_until(predicate, timeout=15.0)


def view(w: FleetWatcher, thing: str) -> ThingView | None:
    return next((v for v in w.snapshot().things if v.thing == thing), None)


def event(e) -> str:
    return json.dumps(e.as_json())


STARTED = LambdaStarted(**{"lambda": "lambda_function"}, pid=7, restarts=0)
STOPPED = LambdaStopped(**{"lambda": "lambda_function"})


def publish_info(link: MqttLink, thing: str, inferences: int | None, **fields) -> None:
    info = DeviceInfo(thing=thing, profile="raspberry-pi-4", project="object_detection", time=time.time(),
                      inferences=inferences, **fields)
    link.publish(info_topic(thing), info.model_dump_json(), retain=True)


class Device(threading.Thread):
    """Stands for a device whose Lambda publishes once per inference, ten a second, and whose info (every
    ``period`` s) carries its inference counter — and, as a periodic info does, a figure of its own that lags
    (4.0)."""

    def __init__(self, link: MqttLink, thing: str, period: float = 2.0, **fields) -> None:
        super().__init__(daemon=True)
        self.link, self.thing, self.period, self.fields = link, thing, period, fields
        self.inferences = 0
        self.halt = threading.Event()

    def run(self) -> None:
        next_info = time.monotonic()
        while not self.halt.is_set():
            if time.monotonic() >= next_info:
                publish_info(self.link, self.thing, self.inferences, inference_fps=4.0, **self.fields)
                next_info += self.period
            self.link.publish(infer_topic(self.thing), json.dumps({"n": self.inferences}))
            self.inferences += 1
            self.halt.wait(0.1)

    def __enter__(self) -> Device:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.halt.set()
        self.join(timeout=5)


def comparable(tile: ThingView) -> bool:
    """Results and inferences per second agree (the Lambda publishes once per inference)."""
    return (tile.inference_fps is not None and tile.results_per_s > 0
            and abs(tile.results_per_s - tile.inference_fps) <= 0.1 * tile.inference_fps)


# -- results/s and inferences/s over the same seconds (#16) ----------------------------------------------------

def test_results_and_inferences_per_second_are_counted_over_the_same_seconds(link, watcher):
    with Device(link, "cam-rate"):
        tile = wait_for(lambda: (v := view(watcher, "cam-rate")) and v.same_window and v)
        assert tile.inference_fps != 4.0 and comparable(tile), tile  # not the device's lagging figure
        assert 1.0 <= tile.rate_window_s <= 3.0  # the seconds between its last two infos
    link.publish(infer_topic("plain"), b'{"x": 1}')  # a thing that sends no info: its results over the last seconds
    plain = wait_for(lambda: view(watcher, "plain"))
    assert not plain.same_window and plain.inference_fps is None and plain.rate_window_s == watcher.rate_window


def test_the_badge_and_the_summary_judge_the_rate_the_tile_shows(link, watcher):
    # ten inferences a second, shown over the same seconds as the results; the device's own lagging figure (4.0)
    # says the opposite in each case, and must not decide
    with Device(link, "cam-slow", expected_fps=12.5, behind=False), Device(link, "cam-fine", expected_fps=8.0,
                                                                         behind=True):
        slow = wait_for(lambda: (v := view(watcher, "cam-slow")) and v.same_window and v)
        fine = wait_for(lambda: (v := view(watcher, "cam-fine")) and v.same_window and v)
        assert slow.inference_fps < KEEP_UP * 12.5 and slow.behind is True and slow.badge == "behind", slow
        assert fine.inference_fps >= KEEP_UP * 8.0 and fine.behind is False and fine.badge == "ok", fine
        snap = watcher.snapshot()
        assert (snap.judged, snap.behind) == (2, 1)


def test_a_counter_that_went_back_gives_no_shared_rate():
    from simulator.fleet.rates import Mark, shared_rates

    before = Mark(arrived=100.0, results=50, sent=1000.0, inferences=50)
    assert shared_rates(before, Mark(arrived=105.0, results=60, sent=1005.0, inferences=0)) is None  # restarted
    assert shared_rates(before, Mark(arrived=105.0, results=60, sent=1000.0, inferences=60)) is None  # no time
    both = shared_rates(before, Mark(arrived=105.0, results=75, sent=1005.0, inferences=75))
    assert both is not None and (both.results_per_s, both.inferences_per_s, both.seconds) == (5.0, 5.0, 5.0)


def test_the_watchers_own_window_counts_the_seconds_it_covers():
    from simulator.fleet.rates import ResultRate

    recent = ResultRate(window=5.0)
    for k in range(60):  # 10 results a second for 6 s, ending at 1006.0
        recent.add(1000.0 + k / 10)
    assert recent.rate(1006.0) == pytest.approx(10.0, abs=0.2)  # not the 6 s of buckets divided by 5


# -- a stopped Lambda (#18) ---------------------------------------------------------------------------------------

def test_a_device_whose_lambda_stopped_is_idle_online_and_not_judged(broker, link, watcher):
    link.publish(status_topic("cam-stop"), event(STARTED))
    publish_info(link, "cam-stop", 10, inference_fps=3.0, expected_fps=4.0, behind=True, lambda_state="running")
    link.publish(infer_topic("cam-stop"), b'{"person": 0.9}')
    wait_for(lambda: (v := view(watcher, "cam-stop")) and v.results == 1 and v.badge == "behind")
    link.publish(status_topic("cam-stop"), event(STOPPED))
    idle = wait_for(lambda: (v := view(watcher, "cam-stop")) and v.badge == "idle" and v)
    assert idle.lambda_state == "stopped"
    snap = watcher.snapshot()
    assert snap.online == 1 and snap.judged == 0 and snap.behind == 0  # a stopped Lambda is not falling behind
    link.publish(status_topic("cam-stop"), event(STARTED))  # deployed again
    wait_for(lambda: (v := view(watcher, "cam-stop")) and v.badge != "idle")
    # a watcher that connects later learns it from the retained info
    publish_info(link, "cam-late", 0, lambda_state="stopped")
    late = FleetWatcher(host="127.0.0.1", port=broker.port).start()
    try:
        assert wait_for(lambda: (v := view(late, "cam-late")) and v.badge == "idle")
    finally:
        late.stop()


def device_status(lam: LambdaStatus | None, inferences: int) -> DeviceStatus:
    return DeviceStatus(
        thing_name="cam", profile="host", source="clip", lambda_=lam,
        inference=InferenceStatus(inferences=inferences, fps=5.0 if lam else 0.0),
        broker=BrokerStatus(host="127.0.0.1", port=1883, embedded=True, infer_topic="$aws/things/cam/infer"),
        messages=0, startup=StartupStatus(stage="running", ready=True, elapsed_s=30.0, first_result_s=2.0))


def test_the_info_says_the_lambda_stopped_and_judges_no_rate_without_one():
    statuses = [device_status(None, 0)]
    publisher = InfoPublisher(lambda: statuses[-1], lambda *a, **k: None, "cam", expected=lambda _s: 6.0)
    assert publisher.current().lambda_state is None  # none deployed yet
    statuses.append(device_status(LambdaStatus(name="lambda_function", state="running"), 120))
    running = publisher.current()
    assert running.lambda_state == "running" and running.inferences == 120 and running.behind is True
    statuses.append(device_status(None, 0))  # undeployed
    stopped = publisher.current()
    assert stopped.lambda_state == "stopped" and stopped.inference_fps is None and stopped.behind is None


# -- the summary's words (#15) ------------------------------------------------------------------------------------

def test_all_keeping_up_says_the_share_it_allows():
    everyone = report([DeviceRate(thing="a", fps=3.8, expected_fps=4.2, behind=False)])  # at 0.9 of its rate
    assert everyone.behind == 0
    assert f"sustains all 1 at their profile's rate (each at {SHARE} of it or more)" in everyone.describe()


def test_the_share_in_words_follows_keep_up():
    from simulator.fleet.capacity import percent, sustains_all

    assert percent(KEEP_UP) == SHARE and percent(0.925) == "92.5 %"
    assert sustains_all(3, 0.75) == "this machine sustains all 3 at their profile's rate (each at 75 % of it or more)"


# -- the /fleet page in Chromium ----------------------------------------------------------------------------------

def test_fleet_page_shows_the_stopped_lambda_the_shared_window_and_the_share(link, watcher):
    if CHROMIUM is None:
        unavailable("chromium", "apt-get install chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    server = FleetServer(watcher, "127.0.0.1", 0).start()
    try:
        link.publish(status_topic("cam-idle"), event(STARTED))
        link.publish(infer_topic("cam-idle"), b'{"person": 0.8}')
        link.publish(status_topic("cam-idle"), event(STOPPED))
        wait_for(lambda: (v := view(watcher, "cam-idle")) and v.badge == "idle")
        with Device(link, "cam-rate", expected_fps=1.0, behind=False), sync_playwright() as pw:
            wait_for(lambda: (v := view(watcher, "cam-rate")) and v.same_window)
            assert watcher.snapshot().judged == 1
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 700})
                page.goto(server.url, wait_until="domcontentloaded")
                page.wait_for_function("document.querySelectorAll('.tile').length === 2", timeout=30000)
                badge = page.locator(".tile[data-thing='cam-idle'] .badge")
                assert badge.text_content() == "Lambda stopped" and "idle" in (badge.get_attribute("class") or "")
                colour = badge.evaluate("e => getComputedStyle(e).color")
                assert colour == "rgb(139, 152, 165)"  # the muted grey, not the online green or the alarm red
                page.wait_for_function("document.querySelector(\".tile[data-thing='cam-rate'] .meta\")"
                                       ".textContent.includes('both over the same')", timeout=15000)
                rates = page.text_content(".tile[data-thing='cam-rate'] .meta")
                got = re.match(r"([\d.]+) results/s · ([\d.]+) inferences/s of 1\.0 expected, both over the same "
                               r"\d s", rates)
                assert got is not None, rates
                results, inferences = float(got[1]), float(got[2])
                assert inferences != 4.0 and abs(results - inferences) <= 0.1 * inferences + 0.1, rates
                summary = page.text_content("#summary")
                assert f"sustains all 1 at their profile's rate (each at {SHARE} of it or more)" in summary
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / "fleet_page.png"))
            finally:
                browser.close()
    finally:
        server.stop()
