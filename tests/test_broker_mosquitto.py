"""impl="mosquitto": the same roles and limits carried out by a real mosquitto child process, reading the same
password file as the amqtt broker."""

from __future__ import annotations

import os
import socket
import sys
import time

import pytest

from simulator.broker import mosquitto
from simulator.broker.acl import Policy
from simulator.broker.embedded import EmbeddedBroker
from simulator.broker.mosquitto import MOSQUITTO, MosquittoBroker
from simulator.broker.passwords import PasswordFile
from simulator.broker.settings import BrokerSettings
from simulator.broker.startup import check_settings
from tests.support.broker_clients import eventually

INSTALLED = any(os.path.exists(p) for p in MOSQUITTO)


@pytest.fixture
def mosquitto_broker():
    if not INSTALLED:
        if os.environ.get("CI"):
            pytest.fail("mosquitto is required in CI (.ci/run installs it)")
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    made: list[EmbeddedBroker] = []

    def make(hosted_things=(), **settings) -> EmbeddedBroker:
        made.append(EmbeddedBroker.from_settings(BrokerSettings(port=0, impl="mosquitto", **settings),
                                                 hosted_things).start())
        return made[-1]

    yield make
    for b in made:
        b.stop()


def test_roles_hold_with_our_password_file(mosquitto_broker, clients, tmp_path):
    path = tmp_path / "passwd"
    users = PasswordFile(path)
    users.set("lens_a", "pw-a")
    users.set("teacher", "pw-t", "instructor")
    users.save()
    b = mosquitto_broker(password_file=path, hosted_things=["lens_a"])
    assert clients(b.port).connack == "Not authorized"
    assert clients(b.port, "lens_a", "wrong").connack == "Not authorized"  # mosquitto answers 5 for both
    teacher = clients(b.port, "teacher", "pw-t")
    teacher.subscribe("$aws/things/#")
    lens = clients(b.port, "lens_a", "pw-a")
    lens.publish("$aws/things/lens_a/infer", b"own")
    lens.publish("$aws/things/lens_b/infer", b"forged")
    teacher.publish("$aws/things/lens_b/infer", b"from the teacher")
    assert eventually(lambda: len(teacher.messages) == 2)
    time.sleep(0.3)
    assert sorted(p for _, p in teacher.messages) == [b"from the teacher", b"own"]  # two publishers: any order
    assert eventually(lambda: b.stats().refused_auth == 2)


def test_issued_credentials_and_read_only_anonymous_clients(mosquitto_broker, clients):
    b = mosquitto_broker(hosted_things=["lens_1"])
    viewer = clients(b.port)
    viewer.subscribe("$aws/things/+/infer")
    clients(b.port).publish("$aws/things/lens_1/infer", b"forged")
    user, password = b.issue_credentials("lens_1")
    clients(b.port, user, password).publish("$aws/things/lens_1/infer", b"real")
    assert eventually(lambda: viewer.messages == [("$aws/things/lens_1/infer", b"real")])
    assert eventually(lambda: b.stats().connections >= 2)  # from $SYS/broker/clients/connected


def test_oversize_packets_close_the_connection(mosquitto_broker):
    b = mosquitto_broker(max_packet_bytes=2048)
    sock = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    sock.sendall(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01b")
    assert sock.recv(4) == b"\x20\x02\x00\x00"
    sock.sendall(b"\x30\xff\xff\xff\x7f\x00\x05topic")
    try:
        assert sock.recv(100) == b""
    except ConnectionResetError:
        pass


# mosquitto's own start order (src/mosquitto.c): listeners__start(), then signal__setup(), then the "running" line.
# Until signal__setup(), a SIGHUP ends the process. The stand-in stretches that gap to a second.
LISTENS_BEFORE_IT_TAKES_SIGHUP = r"""
import re, signal, socket, sys, time
port = int(re.search(r"^listener (\d+)", open(sys.argv[2]).read(), re.M).group(1))
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", port))
sock.listen()
time.sleep(1.0)
signal.signal(signal.SIGHUP, lambda *a: print("Reloading config.", file=sys.stderr, flush=True))
print("mosquitto version 0.0 running", file=sys.stderr, flush=True)
while True:
    time.sleep(1)
"""


def test_start_waits_until_mosquitto_can_take_a_reload(tmp_path, monkeypatch):
    stand_in = tmp_path / "mosquitto"
    stand_in.write_text(f"#!{sys.executable}\n{LISTENS_BEFORE_IT_TAKES_SIGHUP}")
    stand_in.chmod(0o755)
    monkeypatch.setattr(mosquitto, "find_mosquitto", lambda: str(stand_in))
    settings = BrokerSettings(port=0, impl="mosquitto")
    broker = MosquittoBroker(settings, Policy(check_settings(settings), ("lens_1",))).start()
    try:
        assert "mosquitto version 0.0 running" in broker.log_tail
        broker.policy.issue_credentials("lens_2")
        broker.reload()
        assert broker._proc is not None and broker._proc.poll() is None, list(broker.log_tail)
        assert "Reloading config." in broker.log_tail
    finally:
        broker.stop()
