"""Unmodified Lambdas in both documented styles, end to end: real video file → Lambda process with real
OpenVINO inference → real embedded broker → real paho subscriber, and the project stream over real HTTP."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import requests

from simulator.status import DeviceStatus
from tests.conftest import ROOT
from tests.support.mjpeg import read_mjpeg_frames
from tests.support.waits import wait_until

LAMBDAS = ROOT / "tests" / "lambdas"




def is_magenta(pixel: np.ndarray) -> bool:
    b, g, r = (int(v) for v in pixel)
    return b > 200 and r > 200 and g < 80


def wait_status(device, predicate, timeout: float = 60.0) -> DeviceStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = device.status()
        if predicate(status):
            return status
        time.sleep(0.2)
    pytest.fail(f"status never matched; last: {json.dumps(device.status().as_json())[:800]}")


@pytest.mark.parametrize("lambda_path", [LAMBDAS / "style2018", LAMBDAS / "greengrassHelloWorld.py"],
                         ids=["2018-lambda_function", "2017-greengrassHelloWorld"])
def test_lambda_runs_unmodified_end_to_end(lambda_path, run_device, subscribe, tiny_artifacts, video_file):
    device, viewer = run_device(project=str(lambda_path), source=str(video_file), artifacts=tiny_artifacts)
    sub = subscribe(device.mqtt_port, "$aws/things/+/infer")

    topic, payload = sub.wait_for(lambda m: m[1].startswith(b"{"))
    assert topic == f"$aws/things/{device.thing_name}/infer"
    result = json.loads(payload)
    colour = next(k for k in result if k in ("blue", "green", "red"))
    assert 0.0 < result[colour] <= 1.0
    # the clip is red, then green, then blue: the model's answer must follow the camera
    seen = set()
    deadline = time.monotonic() + 60
    while len(seen) < 3 and time.monotonic() < deadline:
        seen |= {k for _, p in sub.messages if p.startswith(b"{") for k in json.loads(p)
                 if k in ("blue", "green", "red")}
        time.sleep(0.2)
    assert seen == {"blue", "green", "red"}

    frames = read_mjpeg_frames(viewer.url + "stream/project.mjpeg", count=3)
    assert len(frames) == 3
    annotated = [f for f in frames if is_magenta(f[5, 5])]
    assert annotated, "the project stream never showed the Lambda's magenta marker"

    status = requests.get(viewer.url + "api/status", timeout=10).json()
    assert status["lambda"]["state"] == "running" and status["lambda"]["restarts"] == 0
    assert status["thing_name"] == device.thing_name
    assert status["broker"]["port"] == device.mqtt_port


def test_device_stream_serves_camera_frames(run_device, tiny_artifacts, video_file):
    device, viewer = run_device(project=str(LAMBDAS / "style2018"), source=str(video_file),
                                artifacts=tiny_artifacts)
    frames = read_mjpeg_frames(viewer.url + "stream/device.mjpeg", count=2)
    assert len(frames) == 2 and frames[0].shape == (360, 640, 3)
    assert not is_magenta(frames[0][5, 5])  # the raw camera, not the annotated stream


def test_crashing_lambda_is_restarted_while_stream_and_broker_stay_up(
        run_device, subscribe, tiny_artifacts, video_file, monkeypatch):
    monkeypatch.setenv("TEST_CRASH_AFTER", "5")
    device, viewer = run_device(project=str(LAMBDAS / "style2018"), source=str(video_file),
                                artifacts=tiny_artifacts)
    infer = subscribe(device.mqtt_port, "$aws/things/+/infer")
    status_sub = subscribe(device.mqtt_port, f"deeplens/{device.thing_name}/status")

    _, payload = status_sub.wait_for(lambda m: b'"restart"' in m[1])
    event = json.loads(payload)
    assert event["event"] == "restart" and event["exit_code"] == 1
    assert "deliberate crash after 5 frames" in event["error"]

    status = wait_status(device, lambda s: s.lambda_ is not None and s.lambda_.restarts >= 2)
    assert "deliberate crash" in status.lambda_.last_error
    # everything else kept running: the camera, the broker (messages still flow) and the viewer
    count = len(infer.messages)
    infer.wait_for(lambda m: len(infer.messages) > count and infer.messages[-1][1].startswith(b"{"))  # a new one
    assert device.status().camera.frames > 10
    assert requests.get(viewer.url + "api/status", timeout=10).status_code == 200
    assert read_mjpeg_frames(viewer.url + "stream/device.mjpeg", count=1)


def test_deeplens_profile_delivers_4mp_frames_and_paces_inference(run_device, subscribe, tiny_artifacts, video_file):
    device, viewer = run_device(project=str(LAMBDAS / "style2018"), source=str(video_file),
                                artifacts=tiny_artifacts, profile="deeplens")
    sub = subscribe(device.mqtt_port, "$aws/things/+/infer")
    _, payload = sub.wait_for(lambda m: m[1].startswith(b"{"))
    assert json.loads(payload)["frame_shape"] == [1520, 2688, 3]  # what getLastFrame gave the Lambda
    status = wait_status(device, lambda s: s.inference.pacing is not None and s.inference.pacing.predicted_ms)
    pacing = status.inference.pacing
    assert status.profile == "deeplens" and status.frame_size == (2688, 1520)
    assert pacing.predicted_ms > 0 and pacing.status.startswith(("paced to deeplens", "host too slow"))
    assert status.inference.predicted_ms == pacing.predicted_ms
    served = requests.get(viewer.url + "api/status", timeout=10).json()  # the same, as JSON
    assert served["frame_size"] == [2688, 1520] and served["inference"]["pacing"]["profile"] == "deeplens"


def test_two_simulated_devices_on_one_machine_do_not_collide(run_device, subscribe, tiny_artifacts, video_file):
    """Two devices, the same Lambda (same /tmp/results.mjpeg path): each stream and topic stays its own."""
    one, viewer_one = run_device(project=str(LAMBDAS / "style2018"), source=str(video_file),
                                 artifacts=tiny_artifacts, thing_name="deeplens_one")
    two, viewer_two = run_device(project=str(LAMBDAS / "style2018"), source="pattern:320x240@15",
                                 artifacts=tiny_artifacts, thing_name="deeplens_two")
    assert one.run_dir != two.run_dir
    sub_one = subscribe(one.mqtt_port, "$aws/things/+/infer")
    sub_two = subscribe(two.mqtt_port, "$aws/things/+/infer")
    t1, p1 = sub_one.wait_for(lambda m: m[1].startswith(b"{"))
    t2, p2 = sub_two.wait_for(lambda m: m[1].startswith(b"{"))
    assert (t1, t2) == ("$aws/things/deeplens_one/infer", "$aws/things/deeplens_two/infer")
    assert json.loads(p1)["frame_shape"] == [360, 640, 3] and json.loads(p2)["frame_shape"] == [240, 320, 3]
    # each project stream carries its own Lambda's frames (858x480 from LocalDisplay, different content)
    # (the first frame may still be LocalDisplay's white 640x480 canvas: take the third)
    f1 = read_mjpeg_frames(viewer_one.url + "stream/project.mjpeg", count=3)[-1]
    f2 = read_mjpeg_frames(viewer_two.url + "stream/project.mjpeg", count=3)[-1]
    assert f1.shape == f2.shape == (480, 858, 3) and is_magenta(f1[5, 5]) and is_magenta(f2[5, 5])
    assert not np.array_equal(f1, f2)


def test_http_mjpeg_url_is_a_camera_source(run_device, video_file):
    """A network camera: another simulator's device stream, read over HTTP as a source."""
    from simulator.camera.sources import open_source

    _, viewer = run_device(project="", source=str(video_file))
    source = open_source(viewer.url + "stream/device.mjpeg")
    source.open()
    try:
        assert source.live and source.read().shape == (360, 640, 3)
    finally:
        source.close()


def test_lambda_whose_working_thread_dies_is_restarted(run_device, subscribe, video_file):
    device, _ = run_device(project=str(LAMBDAS / "thread_crash.py"), source=str(video_file))
    lines: list[str] = []
    device.on_lambda_line(lambda kind, line: lines.append(line), replay=True)
    status_sub = subscribe(device.mqtt_port, f"deeplens/{device.thing_name}/status")
    _, payload = status_sub.wait_for(lambda m: b'"restart"' in m[1])
    event = json.loads(payload)
    assert event["exit_code"] == 1 and "the Lambda has no working thread left" in event["error"]
    # its traceback reaches the log (what was printed before this test listened is replayed to it)
    wait_until(lambda: any("RuntimeError: worker thread failed" in line for line in list(lines)),
               "the worker thread's traceback in the Lambda's output")


def test_a_relative_artifacts_folder_is_the_same_folder_for_the_lambda(run_device, video_file, tmp_path, monkeypatch):
    """The Lambda runs in its own folder: a relative --artifacts must still mean the folder the user named."""
    lam = tmp_path / "lam" / "lambda_function.py"
    lam.parent.mkdir()
    lam.write_text("import time\n"
                   "with open('/opt/awscam/artifacts/written.txt', 'w') as f:\n"
                   "    f.write('here')\n"
                   "while True:\n"
                   "    time.sleep(1)\n")
    (tmp_path / "art").mkdir()
    monkeypatch.chdir(tmp_path)
    run_device(project=str(lam), source=str(video_file), artifacts="art")
    wait_until(lambda: (tmp_path / "art" / "written.txt").is_file(), "the Lambda's file in ./art", timeout=60)
    assert not (lam.parent / "art").exists()
