"""An external broker instead of the embedded one: a real mosquitto, as many users run it."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from simulator.ipc.mqtt import disconnect_and_stop
from tests.conftest import ROOT
from tests.support.needs import unavailable

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


def start_mosquitto(conf, ports: list[int]) -> subprocess.Popen:
    """Start mosquitto with ``conf`` and wait until it accepts connections on every port."""
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    for port in ports:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
                time.sleep(0.1)
    return proc


@pytest.fixture
def mosquitto(tmp_path):
    if MOSQUITTO is None:
        unavailable("mosquitto", "apt-get install mosquitto (.ci/run installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = start_mosquitto(conf, [port])
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
    assert device.status().as_json()["broker"] == {"host": "127.0.0.1", "port": mosquitto, "embedded": False,
                                                   "infer_topic": topic, "stats": None}


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def tls_mosquitto(tmp_path):
    """mosquitto with a TLS listener that requires client certificates (as AWS IoT Core does) and a plain one
    for the test's own subscriber; the CA and certificates are made here with openssl."""
    if MOSQUITTO is None or shutil.which("openssl") is None:
        unavailable("mosquitto and openssl", "apt-get install mosquitto openssl")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "2", "-subj", "/CN=test-ca", cwd=tmp_path)
    for name, cn in (("server", "127.0.0.1"), ("client", "deeplens-thing")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", *(["-addext", "subjectAltName=IP:127.0.0.1"] if name == "server" else []),
                 cwd=tmp_path)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", "-copy_extensions", "copy", cwd=tmp_path)
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"user {getpass.getuser()}\nper_listener_settings false\nallow_anonymous true\npersistence false\n"
        f"listener {ports[0]} 127.0.0.1\ncafile {tmp_path}/ca.crt\ncertfile {tmp_path}/server.crt\n"
        f"keyfile {tmp_path}/server.key\nrequire_certificate true\n"
        f"listener {ports[1]} 127.0.0.1\n")
    proc = start_mosquitto(conf, ports)
    yield tmp_path, ports[0], ports[1]
    proc.terminate()
    proc.wait(10)


def test_lambda_publishes_over_tls_with_client_certificates(tls_mosquitto, run_device, subscribe,
                                                             tiny_artifacts, video_file):
    certs, tls_port, plain_port = tls_mosquitto
    sub = subscribe(plain_port, "$aws/things/+/infer")
    device, _ = run_device(project=str(ROOT / "tests/lambdas/style2018"), source=str(video_file),
                           artifacts=tiny_artifacts, broker=f"127.0.0.1:{tls_port}", broker_ca=certs / "ca.crt",
                           broker_cert=certs / "client.crt", broker_key=certs / "client.key")
    topic, payload = sub.wait_for(lambda m: m[1].startswith(b"{"))
    assert topic == f"$aws/things/{device.thing_name}/infer" and json.loads(payload)["style"] == 2018


def test_missing_certificate_file_is_a_clear_error(tmp_path):
    from pydantic import ValidationError

    from simulator.config import RunConfig, config_error

    with pytest.raises(ValidationError) as caught:  # checked where the settings are made, before anything starts
        RunConfig(broker="127.0.0.1:8883", broker_ca=tmp_path / "missing-ca.crt",
                  broker_cert=tmp_path / "missing.crt", broker_key=tmp_path / "missing.key")
    message = str(config_error(caught.value))
    assert f"--broker-ca: no such file: {tmp_path / 'missing-ca.crt'}" in message
    assert "--broker-cert: no such file" in message and "--broker-key: no such file" in message


def _paho(port: int, user: str, password: str):
    """A real paho client with credentials (the instructor's, or a student's)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{user}-{time.monotonic_ns()}")
    client.username_pw_set(user, password)
    got: list[tuple[str, bytes]] = []
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p=None: (connected.set() if not rc.is_failure else None)
    client.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(10), f"{user} could not connect"
    return client, got


def test_classroom_students_publish_to_a_shared_mosquitto_over_tls_with_passwords(tmp_path, run_device,
                                                                                tiny_artifacts, video_file):
    """The classroom set-up: every student's simulator publishes to one shared broker (mosquitto, TLS, a password
    file made with `main.py users add`, an ACL scoping each thing to its own topics); the instructor sees all."""
    from simulator.broker.passwords import PasswordFile

    if MOSQUITTO is None or shutil.which("openssl") is None:
        unavailable("mosquitto and openssl", "apt-get install mosquitto openssl")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=classroom-ca", cwd=tmp_path)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
             "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", cwd=tmp_path)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
             "server.crt", "-days", "2", "-copy_extensions", "copy", cwd=tmp_path)
    users = PasswordFile.load(tmp_path / "passwd", missing_ok=True)
    users.set("instructor", "teach", role="instructor")
    users.set("student_01", "pw-one")
    users.set("student_02", "pw-two")
    users.save()
    (tmp_path / "acl").write_text(
        "user instructor\ntopic readwrite #\ntopic readwrite $aws/#\n"
        "pattern readwrite $aws/things/%u/#\npattern readwrite deeplens/%u/#\n")
    ports = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"user {getpass.getuser()}\nper_listener_settings false\nallow_anonymous false\npersistence false\n"
        f"password_file {tmp_path}/passwd\nacl_file {tmp_path}/acl\n"
        f"listener {ports[0]} 127.0.0.1\ncafile {tmp_path}/ca.crt\ncertfile {tmp_path}/server.crt\n"
        f"keyfile {tmp_path}/server.key\nlistener {ports[1]} 127.0.0.1\n")
    proc = start_mosquitto(conf, ports)
    try:
        instructor, seen = _paho(ports[1], "instructor", "teach")
        instructor.subscribe("$aws/things/+/infer", qos=1)
        device, _ = run_device(project=str(ROOT / "tests/lambdas/style2018"), source=str(video_file),
                               artifacts=tiny_artifacts, thing_name="student_01", broker=f"127.0.0.1:{ports[0]}",
                               broker_ca=tmp_path / "ca.crt", broker_username="student_01",
                               broker_password="pw-one")
        deadline = time.monotonic() + 60
        while not any(t == "$aws/things/student_01/infer" for t, _ in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(t == "$aws/things/student_01/infer" and json.loads(p)["style"] == 2018 for t, p in seen)
        # another student cannot publish as student_01; the ACL drops it
        other, _ = _paho(ports[1], "student_02", "pw-two")
        other.publish("$aws/things/student_01/infer", b'{"forged": true}', qos=1).wait_for_publish(10)
        other.publish("$aws/things/student_02/infer", b'{"own": true}', qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 20
        while not any(p == b'{"own": true}' for _, p in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(p == b'{"own": true}' for _, p in seen) and not any(b"forged" in p for _, p in seen)
        for client in (instructor, other):
            disconnect_and_stop(client)
    finally:
        proc.terminate()
        proc.wait(10)
