"""On the network, never open by accident: beyond loopback the broker needs credentials (a password file made at
the first such start, its instructor password printed once) and the viewer a token; on loopback zero setup."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
import requests

from simulator.config import RunConfig
from simulator.core import SimulatedDevice
from simulator.ipc.mqtt import disconnect_and_stop
from simulator.network import default_password_file
from simulator.viewer.access import ViewerAccess
from simulator.viewer.server import ViewerServer
from tests.conftest import ROOT


def connect(port: int, user: str | None = None, password: str | None = None) -> tuple[mqtt.Client, object]:
    """A real paho client; returns it and its CONNACK reason code (None: no answer)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{time.monotonic_ns()}")
    if user is not None:
        client.username_pw_set(user, password)
    answered, result = threading.Event(), {}

    def on_connect(c, u, flags, reason, props=None):
        result["rc"] = reason
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    answered.wait(10)
    return client, result.get("rc")


@pytest.fixture
def networked(tmp_path, monkeypatch, tiny_artifacts, video_file, capsys):
    monkeypatch.setenv("DEEPLENS_SIM_HOME", str(tmp_path / "home"))
    config = RunConfig(project=str(ROOT / "tests/lambdas/style2018"), source=str(video_file),
                       artifacts=tiny_artifacts, mqtt_host="0.0.0.0", http_host="0.0.0.0", mqtt_port=0, http_port=0,
                       cloud_port=0)
    device = SimulatedDevice(config).start()
    viewer = ViewerServer(device, "0.0.0.0", 0, access=ViewerAccess.for_listen("0.0.0.0")).start()
    yield device, viewer, capsys.readouterr().err
    viewer.stop()
    device.stop()


def test_beyond_loopback_credentials_and_a_token_are_required(networked):
    device, viewer, printed = networked
    path = default_password_file()
    match = re.search(r"with the user 'instructor', password: (\S+)", printed)
    assert path.is_file() and match, printed  # made at the first start, the password shown once
    assert match.group(1) not in path.read_text()  # only its salted hash is kept
    anonymous, rc = connect(device.mqtt_port)
    assert rc is not None and rc.is_failure  # refused, not ignored
    wrong, rc = connect(device.mqtt_port, "instructor", "not-the-password")
    assert rc is not None and rc.is_failure
    for client in (anonymous, wrong):
        disconnect_and_stop(client)
    instructor, rc = connect(device.mqtt_port, "instructor", match.group(1))
    assert rc is not None and not rc.is_failure
    got: list[bytes] = []
    instructor.on_message = lambda c, u, m: got.append(m.payload)
    instructor.subscribe("$aws/things/+/infer", qos=1)
    deadline = time.monotonic() + 60
    while not any(p.startswith(b"{") for p in got) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(json.loads(p).get("style") == 2018 for p in got if p.startswith(b"{"))  # the Lambda authenticated
    disconnect_and_stop(instructor)
    stats = device.status().broker.stats
    assert stats is not None and stats.refused_auth >= 2
    base = f"http://127.0.0.1:{viewer.port}"
    assert requests.get(base + "/api/status", timeout=10).status_code == 401
    assert viewer.access.token and viewer.url.endswith(f"?token={viewer.access.token}")
    assert requests.get(base + "/api/status", headers={"Authorization": f"Bearer {viewer.access.token}"},
                        timeout=10).status_code == 200
    # the address other machines get (printed, and the fleet page's link): this machine's name, which the viewer takes
    remote = urlsplit(viewer.remote_url)
    assert remote.hostname == socket.gethostname().lower() and remote.port == viewer.port
    assert remote.query == f"token={viewer.access.token}"
    assert requests.get(base + "/api/status", timeout=10, headers={
        "Host": remote.netloc, "Authorization": f"Bearer {viewer.access.token}"}).status_code == 200


def test_loopback_stays_zero_setup_but_only_the_device_publishes_as_itself(run_device, subscribe, tiny_artifacts,
                                                                            video_file):
    device, viewer = run_device(project=str(ROOT / "tests/lambdas/style2018"), source=str(video_file),
                                artifacts=tiny_artifacts)
    infer = subscribe(device.mqtt_port, "$aws/things/+/infer")  # anonymous subscribers are welcome on loopback
    infer.wait_for(lambda m: m[1].startswith(b"{"))
    assert requests.get(viewer.url + "api/status", timeout=10).status_code == 200  # no token on loopback
    forger, rc = connect(device.mqtt_port)
    assert rc is not None and not rc.is_failure
    forger.publish(device.infer_topic, b'{"forged": true}', qos=1)
    forger.publish(f"deeplens/{device.thing_name}/status", b'{"forged": true}', qos=1)
    deadline = time.monotonic() + 20
    while (device.status().broker.stats.refused_acl < 1) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert device.status().broker.stats.refused_acl >= 1
    assert not any(b"forged" in p for _, p in infer.messages)
    assert not any(b"forged" in m.payload for m in device.messages.since(0, 500))
    disconnect_and_stop(forger)
