"""An external broker instead of the embedded one: a real mosquitto, as many users run it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from tests.conftest import ROOT

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


@pytest.fixture
def mosquitto(tmp_path):
    if MOSQUITTO is None:
        if os.environ.get("CI"):
            pytest.fail("mosquitto is required in CI (.ci/run installs it)")
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(10)


def test_lambda_publishes_through_mosquitto(mosquitto, run_device, subscribe, tiny_artifacts, video_file):
    device, _ = run_device(project=str(ROOT / "tests/lambdas/style2018"), source=str(video_file),
                           artifacts=tiny_artifacts, broker=f"127.0.0.1:{mosquitto}")
    assert device.broker is None and device.mqtt_port == mosquitto  # nothing embedded was started
    sub = subscribe(mosquitto, "$aws/things/+/infer")
    topic, payload = sub.wait_for(lambda m: m[1].startswith(b"{"))
    assert topic == f"$aws/things/{device.thing_name}/infer" and json.loads(payload)["style"] == 2018
    assert device.status()["broker"] == {"host": "127.0.0.1", "port": mosquitto, "embedded": False,
                                         "infer_topic": topic}
