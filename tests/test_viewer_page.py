"""The viewer page in a real headless Chromium: both streams render, status and messages fill in."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from tests.conftest import ROOT
from tests.support.needs import unavailable

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        unavailable("chromium", "apt-get install chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def test_page_shows_streams_status_and_messages(browser, run_device, tiny_artifacts, video_file, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - ruleName: keep\n    sql: \"SELECT * FROM '$aws/things/+/infer'\"\n"
                     "    actions: [{file: {path: out.jsonl}}]\n")
    device, viewer = run_device(project=str(ROOT / "tests/lambdas/style2018"), source=str(video_file),
                                artifacts=tiny_artifacts, rules=[rules])
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(viewer.url, wait_until="domcontentloaded")
        page.wait_for_function("document.getElementById('thing').textContent.length > 0", timeout=30000)
        assert page.text_content("#thing") == device.thing_name
        # both MJPEG streams decode into images in the browser
        page.wait_for_function("document.getElementById('project').naturalWidth > 0", timeout=30000)
        page.wait_for_function("document.getElementById('device').naturalWidth > 0", timeout=30000)
        assert page.evaluate("document.getElementById('device').naturalWidth") == 640
        # the Lambda's JSON shows up in the message list, with its topic
        page.wait_for_function("[...document.querySelectorAll('#messages div')]"
                               ".some(d => d.textContent.includes('\"style\"'))", timeout=30000)
        topic = f"$aws/things/{device.thing_name}/infer "  # not the rules' status, whose filter names /infer too
        infer = [t for t in page.locator("#messages div").all_text_contents() if topic in t]
        assert infer and '"style": 2018' in infer[0], infer
        # the start-up overlay said what was happening, and goes once the Lambda has run its first inference
        page.wait_for_function("document.getElementById('overlay').classList.contains('hidden')", timeout=30000)
        status = page.text_content("#status")
        assert "running" in status and f"127.0.0.1:{device.mqtt_port}" in status and "host" in status
        # the rule, and where its action writes
        page.wait_for_function("document.getElementById('rules').textContent.includes('file →')", timeout=30000)
        assert f"file → {tiny_artifacts / 'rules' / 'out.jsonl'}" in page.text_content("#rules")
        page.screenshot(path=str(tmp_path / "viewer.png"))
        if os.environ.get("VIEWER_SCREENSHOT"):
            page.screenshot(path=os.environ["VIEWER_SCREENSHOT"])
    finally:
        page.close()


def test_on_a_phone_the_project_stream_is_full_width_and_a_stopped_simulator_is_said(browser, run_device,
                                                                                      tiny_artifacts, video_file):
    device, viewer = run_device(project=str(ROOT / "tests/lambdas/style2018"), source=str(video_file),
                                artifacts=tiny_artifacts)
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    refused: list[str] = []  # answers of 400 or more, or requests that failed (the streams' end at stop aside)
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: refused.append(f"failed {r.url}"))
    polls: list[str] = []
    page.on("requestfinished", lambda r: polls.append(r.url) if r.url.endswith("/api/status") else None)
    try:
        page.goto(viewer.url, wait_until="domcontentloaded")
        page.wait_for_function("document.getElementById('project').naturalWidth > 0", timeout=30000)
        stream = page.locator("#project").bounding_box()
        live = page.locator("#device").bounding_box()
        assert stream is not None and live is not None
        assert stream["width"] > 300 and live["y"] > stream["y"] + stream["height"]  # one column, the stream first
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
        assert page.is_hidden("#lost")
        seen = len(polls)  # the page polls its status every second, and what else it asks for in between
        deadline = time.monotonic() + 30
        while len(polls) < seen + 3:
            assert time.monotonic() < deadline, f"the page polled its status {len(polls) - seen} times in 30 s"
            page.wait_for_timeout(200)
        assert page.is_hidden("#nav")  # this viewer serves no fleet page: no link to one
        assert errors == [] and refused == []  # no favicon 404, no script error, no request refused
        viewer.stop()  # the simulator goes away: the page says so rather than keep its last status
        page.wait_for_function("!document.getElementById('lost').hidden", timeout=15000)
        assert "not answering" in page.text_content("#lost")
    finally:
        page.close()
