"""``main.py fleet`` in a subprocess: it runs, reports, stops after --duration with exit code 0 and leaves nothing
running; bad input is one ``error:`` line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from simulator.cli import app
from tests.conftest import ROOT

LAMBDA = str(ROOT / "tests/lambdas/style2018")


def fleet_command(*args: str) -> list[str]:
    if "fleet" in app.SUBCOMMANDS:
        return [sys.executable, str(ROOT / "main.py"), "fleet", *args]
    return [sys.executable, "-m", "simulator.cli.fleet", *args]  # the same command, before main.py lists it


def test_fleet_runs_for_its_duration_and_leaves_nothing_running(tiny_artifacts, video_file, sim_home):
    proc = subprocess.Popen(
        fleet_command("--devices", "2", "--source", str(video_file), "--project", LAMBDA, "--artifacts",
                      str(tiny_artifacts), "--http-port", "0", "--mqtt-port", "0", "--duration", "4",
                      "--baseline-seconds", "1"),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[int] = set()
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 90
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            seen |= {p.pid for p in parent.children(recursive=True)}
        except psutil.NoSuchProcess:
            break
        time.sleep(0.3)
    out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    assert proc.returncode == 0, err[-3000:]
    assert "student-01: http://127.0.0.1:" in out and "student-02: http://127.0.0.1:" in out, out
    assert "fleet page: http://127.0.0.1:" in out and "one decoder for 2 device(s)" in out, out
    assert "capacity:" in out and "one device alone:" in out, out
    assert "OpenVINO CPU threads per Lambda: " in out, out  # the cores shared out, said once
    assert len(seen) >= 2, "the Lambda processes were never seen"
    time.sleep(0.5)
    alive = [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left running: {alive}"


def test_watch_serves_the_fleet_page_of_another_broker():
    import json
    import urllib.request

    from simulator.broker.embedded import EmbeddedBroker
    from simulator.ipc.mqtt import MqttLink

    broker = EmbeddedBroker("127.0.0.1", 0).start()
    link = MqttLink("127.0.0.1", broker.port, client_id="student").start()
    proc = subprocess.Popen(fleet_command("--watch", f"127.0.0.1:{broker.port}", "--http-port", "0",
                                          "--duration", "60"),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any("fleet page:" in line for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        url = lines[-1].split("fleet page:")[1].strip().replace("/fleet", "/api/fleet")
        deadline = time.monotonic() + 20
        things: list = []
        while "student-42" not in things:
            assert time.monotonic() < deadline, things
            link.publish("$aws/things/student-42/infer", b'{"Hotdog": 0.8}')
            with urllib.request.urlopen(url, timeout=10) as r:
                things = [t["thing"] for t in json.loads(r.read())["things"]]
            time.sleep(0.2)
        proc.send_signal(2)  # Ctrl-C: a clean stop
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        link.stop()
        broker.stop()


@pytest.mark.parametrize(("args", "message"), [
    (["--devices", "0"], "--devices"),
    (["--devices", "2", "--project", "no_such_project"], "no_such_project"),
    (["--devices", "2", "--thing-prefix", "bad/name"], "--thing-prefix"),
    (["--devices", "1", "--source", "/no/such/clip.mp4", "--project", LAMBDA], "/no/such/clip.mp4"),
    (["--watch", "nohost"], "--watch"),
    (["--watch", "127.0.0.1:1883", "--broker-ca", "/no/ca.pem"], "/no/ca.pem"),
    (["--devices", "2", "--username", "bob"], "--watch"),
])
def test_bad_input_is_one_error_line_and_exit_code_2(args, message):
    proc = subprocess.run(fleet_command(*args, "--http-port", "0", "--mqtt-port", "0", "--duration", "1"),
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
