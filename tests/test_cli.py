"""The command line as a user meets it: the demo runs and ends cleanly; bad input gets one clear message,
a non-zero exit, and nothing is left running."""

from __future__ import annotations

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from tests.conftest import ROOT

MAIN = [sys.executable, str(ROOT / "main.py")]


def leftovers(thing: str, pid: int) -> list[str]:
    """Lambda processes of that thing, and runtime folders of that simulator process, still present."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if "simulator.runtime.host" in " ".join(proc.info["cmdline"] or []) \
                    and proc.environ().get("AWS_IOT_THING_NAME") == thing:
                found.append(f"process {proc.pid}")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    found += glob.glob(f"/dev/shm/deeplens-sim-{pid}-*") + glob.glob(f"/tmp/deeplens-sim-{pid}-*")
    return found


def run_main(*args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess, str]:
    thing = f"test_{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([*MAIN, "--headless", "--mqtt-port", "0", "--http-port", "0",
                             "--thing-name", thing, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=timeout)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert leftovers(thing, proc.pid) == [], "something was left running"
    return result, thing


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("args, expected", [
    (["--source", "/no/such/clip.mp4"], "cannot open source '/no/such/clip.mp4': no such file or folder"),
    (["--source", "9"], "cannot open camera webcam 9"),
    (["--project", "no_such_sample"], "unknown project 'no_such_sample'"),
    (["--project", "/no/such/lambda_function.py"], "Lambda file not found: /no/such/lambda_function.py"),
    (["--profile", "no_such_board"], "unknown hardware profile 'no_such_board'"),
    (["--broker", "127.0.0.1:"], "--broker '127.0.0.1:': expected HOST:PORT"),
], ids=["missing-file", "missing-webcam", "unknown-project", "missing-lambda", "unknown-profile", "bad-broker"])
def test_bad_input_gets_one_clear_error(args, expected):
    result, _ = run_main("--source", "pattern", *args)
    assert result.returncode == 2
    errors = error_lines(result)
    assert len(errors) == 1 and expected in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_lambda_with_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "lambda_function.py"
    bad.write_text("import awscam\n\ndef infinite_infer_run(:\n    pass\n")
    result, _ = run_main("--source", "pattern", "--project", str(bad))
    assert result.returncode == 2
    assert error_lines(result) == [f"error: {bad}:3:24: SyntaxError: invalid syntax"]


@pytest.mark.parametrize("flag", ["--mqtt-port", "--http-port"])
def test_port_in_use_is_reported_and_nothing_left_running(flag, tiny_artifacts):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result, _ = run_main("--source", "pattern", "--artifacts", str(tiny_artifacts),
                             "--project", str(ROOT / "tests/lambdas/style2018"), flag, str(port))
    assert result.returncode == 2
    kind = "MQTT" if flag == "--mqtt-port" else "HTTP"
    assert error_lines(result) == [f"error: {kind} port 127.0.0.1:{port} is already in use"]


def start_headless_until_the_lambda_runs(thing: str, tiny_artifacts, video_file, **popen) -> subprocess.Popen:
    """`main.py --headless` on the style-2018 Lambda, once its banner is printed and its Lambda process exists."""
    proc = subprocess.Popen([*MAIN, "--headless", "--mqtt-port", "0", "--http-port", "0", "--thing-name", thing,
                             "--source", str(video_file), "--artifacts", str(tiny_artifacts),
                             "--project", str(ROOT / "tests/lambdas/style2018")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    try:
        assert "viewer:" in proc.stdout.readline() + proc.stdout.readline()
        assert "MQTT:" in proc.stdout.readline()  # started (Ctrl-C while starting aborts the start: exit 130)
        deadline = time.monotonic() + 60
        while not any("simulator.runtime.host" in " ".join(p.cmdline()) for p in psutil.Process(proc.pid).children()):
            assert time.monotonic() < deadline, "the Lambda process never started"
            time.sleep(0.2)
    except BaseException:
        proc.kill()
        proc.communicate(timeout=60)
        raise
    return proc


def test_ctrl_c_stops_everything(tiny_artifacts, video_file):
    thing = f"test_{uuid.uuid4().hex[:8]}"
    proc = start_headless_until_the_lambda_runs(thing, tiny_artifacts, video_file)
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert leftovers(thing, proc.pid) == []


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_a_sigterm_to_the_whole_process_group_stops_everything_in_order(tiny_artifacts, video_file):
    """What `timeout`, `kill -- -PGID` or a container stop send: every process of the group gets the signal at
    once. The simulator stops its children itself, so none of them reports an end nobody asked for."""
    thing = f"test_{uuid.uuid4().hex[:8]}"
    proc = start_headless_until_the_lambda_runs(thing, tiny_artifacts, video_file, start_new_session=True)
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err[-2000:]
    assert "received SIGTERM: shutting down" in err
    assert [line for line in err.splitlines() if " ERROR " in line or "unexpectedly" in line] == []
    assert leftovers(thing, proc.pid) == []


@pytest.mark.network
def test_demo_runs_on_the_bundled_clip_and_exits_zero_on_ctrl_c(subscribe):
    """`python main.py --headless` on a machine without a webcam (as README's quick start), stopped with Ctrl-C
    once it has published a detection (``--duration`` only bounds the test)."""
    env = dict(os.environ, OPENCV_LOG_LEVEL="ERROR")
    proc = subprocess.Popen([*MAIN, "--headless", "--duration", "60"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = [proc.stdout.readline() for _ in range(4)]
        mqtt_line = next(line for line in banner if "MQTT:" in line)
        port = int(mqtt_line.split(":")[2].split()[0])
        sub = subscribe(port, "$aws/things/+/infer")
        _, payload = sub.wait_for(lambda m: m[1].startswith(b"{") and len(json.loads(m[1])) > 0, timeout=30)
        detections = json.loads(payload)
        assert all(0.25 < p <= 1.0 for p in detections.values())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "demo clip" in "".join(banner)
    assert "no webcam found: playing the bundled demo clip" in err


def test_without_a_display_the_window_falls_back_to_headless(tiny_artifacts):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([*MAIN, "--duration", "2", "--mqtt-port", "0", "--http-port", "0", "--source", "pattern",
                             "--artifacts", str(tiny_artifacts), "--project", str(ROOT / "tests/lambdas/style2018")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no display found (DISPLAY/WAYLAND_DISPLAY unset): running headless" in result.stderr
    assert "viewer:  http://127.0.0.1:" in result.stdout


@pytest.mark.parametrize("args, expected", [
    (["--bogus"], "error: unrecognized arguments: --bogus"),
    (["models", "fetch", "no-such-model"], "error: no bundled model is called 'no-such-model'"),
    (["models"], "error: choose one of"),
    (["models", "fetch"], "error: the following arguments are required: name"),
    (["bench", "--profiles", "nowhere", "--iterations", "1"], "error: unknown hardware profile 'nowhere'"),
    (["--env", "NOEQUALS"], "error: --env 'NOEQUALS': expected KEY=VALUE"),
    (["--headless", "--duration", "-1"], "error: argument --duration: '-1': give 0 or more seconds"),
    (["fleet", "--duration", "nan"], "error: argument --duration: 'nan': give 0 or more seconds"),
    (["--headless", "--listen", "192.0.2.1", "--http-port", "0"], "hint: --listen takes an address of this machine"),
    (["--headless", "--memory-limit", "-5"], "error: --memory-limit: Input should be greater than 0"),
    (["--headless", "--env", "1A=b"], "error: --env: '1A' is not an environment variable name"),
], ids=["unknown-flag", "unknown-model", "no-subcommand", "missing-argument", "unknown-profile", "bad-env",
        "negative-duration", "nan-duration", "foreign-listen-address", "memory-limit-flag", "env-name"])
def test_every_usage_error_is_one_error_line_and_exit_2(args, expected):
    result = subprocess.run([*MAIN, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_lists_take_commas_and_spaces_alike(tiny_artifacts):
    import argparse

    from simulator.cli import bench

    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers())
    forms = [["--profiles", "deeplens,raspberry-pi-4"], ["--profiles", "deeplens", "raspberry-pi-4"],
             ["--profiles", "deeplens", "--profiles", "raspberry-pi-4"], ["--profile", "deeplens, raspberry-pi-4"]]
    for form in forms:
        assert parser.parse_args(["bench", *form]).profiles == ["deeplens", "raspberry-pi-4"], form
    # and the command itself, run as a user runs it
    model = str(tiny_artifacts / "tiny_classifier.xml")
    result = subprocess.run([*MAIN, "bench", "--profiles", "deeplens", "raspberry-pi-4", "--model", model,
                             "--iterations", "1", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert sorted({row["profile"] for row in json.loads(result.stdout)}) == ["deeplens", "raspberry-pi-4"]


def test_a_reader_that_goes_away_gets_no_traceback():
    """``python main.py models list --json | head -1``: the pipe closes early; the command ends quietly."""
    proc = subprocess.Popen([*MAIN, "models", "list", "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first byte
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and "Traceback" not in err and "BrokenPipe" not in err, err
