"""Progress from the first second: the page answers at once and says what the device is busy with (downloading,
converting, starting the Lambda) until the first result, whose time is measured."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time

import pytest
import requests

from simulator import progress
from simulator.inference.download import fetch_to
from tests.conftest import ROOT
from tests.support.waits import wait_until


def test_a_download_reports_its_progress_to_status_displays(tmp_path):
    body = bytes(range(256)) * 4096  # 1 MiB

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(0, len(body), 65536):
                self.wfile.write(body[i:i + 65536])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen: list[tuple[str, str, float | None]] = []
    stop = progress.listen(lambda *report: seen.append(report))
    try:
        size = fetch_to(f"http://127.0.0.1:{server.server_port}/model.whl", tmp_path / "m.part", desc="model.whl",
                        progress=False)
    finally:
        stop()
        server.shutdown()
    assert size == len(body) and (tmp_path / "m.part").read_bytes() == body
    percents = [p for stage, what, p in seen if stage == "downloading" and what == "model.whl"]
    assert percents == sorted(percents) and percents[-1] == 100 and len(percents) > 3


def test_status_walks_through_start_up_to_the_first_result(run_device, tiny_artifacts, video_file):
    # a Lambda that waits 1.5 s before its first inference: the stages before "running" last long enough to be seen
    device, _ = run_device(project=str(ROOT / "tests/lambdas/slow_start"), source=str(video_file),
                           artifacts=tiny_artifacts, env={"TEST_SLOW_START": "1.5"})
    stages = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        startup = device.status().startup
        stages.add(startup.stage)
        if startup.ready and startup.first_result_s is not None and startup.first_frame_s is not None:
            break
        time.sleep(0.05)
    assert startup.ready and startup.stage == "running", startup
    assert 0 < startup.first_result_s <= startup.elapsed_s and 0 < startup.first_frame_s <= startup.elapsed_s
    assert stages & {"starting the Lambda", "waiting for the first inference"}, stages
    wait_until(lambda: device.status().inference.host_ms is not None, "the Lambda's latency to show", timeout=30)
    device.undeploy()
    status = device.status()
    assert status.startup.stage == "no project deployed" and status.startup.first_result_s is None
    # no Lambda, none of its figures: no latency, no model, no pacing verdict left over (at the next sample)
    wait_until(lambda: device.status().inference.model is None, "the Lambda's figures to go", timeout=10)
    inference = device.status().inference
    assert inference.host_ms is None and inference.pacing is None and inference.inferences == 0


def test_a_lambda_without_a_model_is_running_once_it_publishes_a_result(run_device, video_file):
    device, _ = run_device(project=str(ROOT / "tests/lambdas/env_report.py"), source=str(video_file))
    deadline = time.monotonic() + 60
    while not device.status().startup.ready and time.monotonic() < deadline:
        time.sleep(0.05)
    startup = device.status().startup
    assert startup.ready and startup.stage == "running" and startup.first_result_s is not None, startup
    assert device.status().inference.inferences == 0  # it never inferred


def test_headless_page_answers_at_once_and_shows_the_stage(tiny_artifacts, video_file):
    cmd = [sys.executable, str(ROOT / "main.py"), "--headless", "--duration", "40", "--mqtt-port", "0",
           "--http-port", "0", "--source", str(video_file), "--artifacts", str(tiny_artifacts),
           "--project", str(ROOT / "tests/lambdas/slow_start")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**__import__("os").environ, "TEST_SLOW_START": "4"})
    try:
        url = None
        for line in proc.stdout:
            if "viewer:" in line:
                url = line.split("viewer:")[1].strip()
                break
        assert url, "the viewer address was not printed"
        stages, status = [], {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = requests.get(url + "api/status", timeout=10).json()
            stages.append(status["startup"]["stage"])
            # ready once the Lambda has inferred; its first message reaches the core's subscription a moment later
            if status["startup"]["ready"] and status["startup"]["first_result_s"] is not None:
                break
            time.sleep(0.2)
        assert "starting the Lambda" in stages, stages  # the Lambda sleeps at import: the page says so meanwhile
        assert status["startup"]["ready"] and status["startup"]["first_result_s"] >= 4
        page = requests.get(url, timeout=10).text
        assert 'id="overlay"' in page and "stageText" in page
        assert '<nav id="nav"><a href="/fleet">' in page  # headless serves the fleet page too: the header links it
        said = next((line for line in proc.stdout if "first result after" in line), None)  # EOF at --duration
        proc.terminate()
        proc.communicate(timeout=60)
        assert said, "the time to the first result was not printed"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("stage", ["downloading"])
def test_startup_text_reads_well(stage):
    from simulator.status import StartupStatus

    s = StartupStatus(stage=stage, detail="x.whl (model ssd)", percent=34.0, elapsed_s=3.0)
    assert s.describe() == "downloading: x.whl (model ssd) (34 %)"
