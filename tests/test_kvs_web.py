"""The web viewer's Kinesis Video routes on a real aiohttp server: the stream list, the latest segment (with range
requests), names that must not become paths; and a real headless Chromium playing a recorded segment in the
viewer page's ``<video>`` panel."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from aiohttp import web

from simulator.aio_thread import LoopThread, listen_socket
from simulator.kvs import layout
from simulator.kvs.encoder import SegmentWriter
from simulator.kvs.web import kvs_routes
from tests.conftest import ROOT
from tests.support.needs import unavailable

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# The viewer page's panel (simulator/viewer/page.html): the markup goes with the other panels, the script with
# the page's others (it uses the page's esc() and its ``lost`` count of status polls that failed).
PAGE_HTML = (ROOT / "simulator/viewer/page.html").read_text(encoding="utf-8")
PANEL_HTML = PAGE_HTML[PAGE_HTML.index('<div class="panel"><details id="kvsPanel">'):
                       PAGE_HTML.index("</details></div>", PAGE_HTML.index('id="kvsPanel"')) + len("</details></div>")]
PANEL_JS = PAGE_HTML[PAGE_HTML.index("let kvsShown"):PAGE_HTML.index("setInterval(refreshKvs, 3000);") + 30]
PAGE = f"""<!doctype html><html><head><meta charset="utf-8"></head><body>{PANEL_HTML}
<script>function esc(t) {{ return String(t).replace(/[&<>]/g, c => ({{"&":"&amp;","<":"&lt;",">":"&gt;"}}[c])); }}
let lost = 0;
{PANEL_JS}</script></body></html>"""


def write_segment(path: Path, frames: int = 45, size: tuple[int, int] = (1280, 720)) -> Path:
    writer = SegmentWriter(path, size[0], size[1], fps=15)
    for i in range(frames):
        image = np.zeros((size[1], size[0], 3), np.uint8)
        image[:, (i * 20) % size[0]:(i * 20) % size[0] + 40] = (0, 200, 255)
        writer.write(image, i * 66_666_667)
    writer.close()
    return path


@pytest.fixture
def server(tmp_path):
    """The routes (and the panel's page at /) on a real server on a free port; yields (base URL, artifacts)."""
    artifacts = tmp_path / "artifacts"
    app = web.Application()
    app.router.add_routes(kvs_routes(lambda: artifacts))
    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", page)
    sock = listen_socket("127.0.0.1", 0, "HTTP", "")
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    loop = LoopThread("kvs-test-http")

    async def boot() -> None:
        await runner.setup()
        await web.SockSite(runner, sock).start()

    loop.start(boot())
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", artifacts
    loop.stop(runner.cleanup())


def test_the_routes_list_streams_and_serve_the_latest_segment_with_ranges(server):
    base, artifacts = server
    assert requests.get(f"{base}/api/kvs", timeout=10).json() == []
    folder = layout.stream_folder(artifacts, "front-door")
    folder.mkdir(parents=True)
    older = write_segment(folder / "20260101T000000.000Z.mp4", frames=10, size=(320, 240))
    latest = write_segment(folder / "20260101T000010.000Z.mp4", frames=10, size=(320, 240))
    (listed,) = requests.get(f"{base}/api/kvs", timeout=10).json()
    assert (listed["name"], listed["segments"], listed["latest"], listed["recording"]) == \
           ("front-door", 2, latest.name, False)
    redirect = requests.get(f"{base}/kvs/front-door/latest.mp4", allow_redirects=False, timeout=10)
    assert redirect.status_code == 302 and redirect.headers["Location"] == f"/kvs/front-door/{latest.name}"
    assert redirect.headers["Cache-Control"] == "no-store"
    whole = requests.get(f"{base}/kvs/front-door/latest.mp4", timeout=10)
    assert whole.status_code == 200 and whole.headers["Content-Type"] == "video/mp4"
    assert whole.content == latest.read_bytes() and whole.headers["Accept-Ranges"] == "bytes"
    part = requests.get(f"{base}/kvs/front-door/{older.name}", headers={"Range": "bytes=4-11"}, timeout=10)
    assert part.status_code == 206 and part.content == older.read_bytes()[4:12] and part.content.startswith(b"ftyp")
    assert part.headers["Content-Range"] == f"bytes 4-11/{older.stat().st_size}"
    for path in ("/kvs/front-door/..%2F..%2Fsecret.mp4", "/kvs/..%2Fartifacts/latest.mp4", "/kvs/nothing/latest.mp4",
                 "/kvs/front-door/.recorder-1.json", "/kvs/front-door/20990101T000000.000Z.mp4"):
        assert requests.get(base + path, timeout=10).status_code == 404, path


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        unavailable("chromium", "apt-get install chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


def test_chromium_plays_the_latest_segment_in_the_viewer_panel(server, browser):
    base, artifacts = server
    folder = layout.stream_folder(artifacts, "myStream")
    folder.mkdir(parents=True)
    write_segment(folder / layout.segment_name(time.time_ns()))
    page = browser.new_page()
    try:
        page.goto(base + "/", wait_until="domcontentloaded")
        page.click("#kvsPanel summary")
        page.wait_for_function("document.getElementById('kvsVideo').readyState >= 1", timeout=20000)
        assert page.evaluate("[kvsVideo.videoWidth, kvsVideo.videoHeight]") == [1280, 720]
        assert page.evaluate("kvsVideo.duration") == pytest.approx(3.0, abs=0.1)  # 45 frames at 15 fps
        assert "myStream" in page.text_content("#kvs") and "stopped" in page.text_content("#kvs")
        page.evaluate("kvsVideo.play()")
        page.wait_for_function("kvsVideo.currentTime > 0.5", timeout=20000)  # it decodes and plays
    finally:
        page.close()
