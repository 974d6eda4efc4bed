"""An external broker instead of the embedded one: a real mosquitto, as many users run it."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

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
                                         "infer_topic": topic}


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
