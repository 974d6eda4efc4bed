"""Who may connect, publish and subscribe on the embedded broker (real paho clients), its password file (in
mosquitto's format, managed by ``users``), per-run credentials, and MQTT over TLS."""

from __future__ import annotations

import argparse
import io
import shutil
import socket
import subprocess
import time

import pytest

from simulator.broker.embedded import EmbeddedBroker
from simulator.broker.passwords import PasswordFile, hash_password, verify_password
from simulator.broker.settings import BrokerSettings
from simulator.cli import users
from simulator.errors import ConfigError
from tests.support.broker_clients import eventually


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "passwd"
    users_file = PasswordFile(path)
    users_file.set("thing_a", "pw-a")
    users_file.set("teacher", "pw-t", "instructor")
    users_file.save()
    return path


def test_wrong_or_absent_credentials_are_refused_and_counted(start_broker, clients, password_file):
    b = start_broker(password_file=password_file)
    assert clients(b.port, "thing_a", "wrong").connack == "Bad user name or password"  # CONNACK 4
    assert clients(b.port, "nobody", "pw-a").connack == "Bad user name or password"
    assert clients(b.port).connack == "Not authorized"  # CONNACK 5: anonymous, a password file is in use
    assert clients(b.port, "thing_a", "pw-a").accepted
    stats = b.stats()
    assert stats.refused_auth == 3 and stats.accepted == 1


def test_a_thing_user_publishes_only_to_its_own_topics(start_broker, clients, password_file):
    b = start_broker(password_file=password_file)
    teacher = clients(b.port, "teacher", "pw-t")
    assert teacher.subscribe("$aws/things/#") == [1] and teacher.subscribe("#") == [1]
    thing = clients(b.port, "thing_a", "pw-a")
    assert thing.subscribe("$aws/things/+/infer") == [1] and thing.subscribe("deeplens/+/status") == [1]
    assert thing.subscribe("classroom/#") == [0x80]  # refused, counted; the client stays connected
    thing.publish("$aws/things/thing_a/infer", b"own")
    thing.publish("deeplens/thing_a/status", b"own status")
    assert eventually(lambda: len(teacher.messages) == 2)
    thing.publish("$aws/things/thing_b/infer", b"forged")
    assert thing.disconnected.wait(10)  # as AWS IoT Core does on a policy violation
    time.sleep(0.3)
    assert [p for _, p in teacher.messages] == [b"own", b"own status"]
    assert b.stats().refused_acl == 2


def test_an_instructor_publishes_anywhere(start_broker, clients, password_file):
    b = start_broker(password_file=password_file)
    watcher = clients(b.port, "thing_a", "pw-a")
    watcher.subscribe("$aws/things/+/infer")
    teacher = clients(b.port, "teacher", "pw-t")
    teacher.publish("$aws/things/thing_a/infer", b"from the teacher")
    teacher.publish("classroom/notice", b"hello")
    assert eventually(lambda: watcher.messages == [("$aws/things/thing_a/infer", b"from the teacher")])
    assert not teacher.disconnected.is_set()


def test_on_loopback_anonymous_clients_may_not_publish_as_a_hosted_thing(start_broker, clients):
    b = start_broker(hosted_things=["lens_1"])
    viewer = clients(b.port)
    assert viewer.subscribe("$aws/things/+/infer") == [1] and viewer.subscribe("#") == [1]
    intruder = clients(b.port)
    intruder.publish("$aws/things/lens_1/infer", b"forged")
    assert intruder.disconnected.wait(10)
    user, password = b.issue_credentials("lens_1")
    own = clients(b.port, user, password)
    own.publish("$aws/things/lens_1/infer", b"real")
    b.host_thing("lens_2")  # hosted from now on
    other = clients(b.port)
    other.publish("deeplens/lens_2/status", b"forged too")
    assert other.disconnected.wait(10)
    tester = clients(b.port)
    tester.publish("$aws/things/not_hosted/infer", b"a test publisher")  # not a hosted thing: allowed
    assert eventually(lambda: len(viewer.messages) == 2)
    # two clients' publishes: the broker orders each client's messages, not the two clients' among each other
    assert sorted(viewer.messages) == [("$aws/things/lens_1/infer", b"real"), ("$aws/things/not_hosted/infer",
                                                                               b"a test publisher")]
    assert clients(b.port, user, "guessed").connack == "Bad user name or password"
    assert b.stats().refused_acl == 2 and b.stats().refused_auth == 1


def test_issued_instructor_credentials_for_a_service(start_broker, clients):
    b = start_broker(hosted_things=["lens_1"])
    user, password = b.issue_credentials("rules-engine", role="instructor")
    viewer = clients(b.port)
    viewer.subscribe("$aws/things/lens_1/#")
    service = clients(b.port, user, password)
    service.publish("$aws/things/lens_1/shadow/update", b"{}")
    assert eventually(lambda: viewer.messages == [("$aws/things/lens_1/shadow/update", b"{}")])


def test_listening_beyond_loopback_needs_a_password_file(password_file):
    with pytest.raises(ConfigError, match="would listen on 0.0.0.0 without a password file"):
        EmbeddedBroker.from_settings(BrokerSettings(host="0.0.0.0", port=0))
    with pytest.raises(ConfigError, match="no such password file"):
        EmbeddedBroker.from_settings(BrokerSettings(port=0, password_file=password_file.parent / "missing"))
    EmbeddedBroker.from_settings(BrokerSettings(host="0.0.0.0", port=0, password_file=password_file))  # no error


def test_a_malformed_password_file_names_file_and_line(tmp_path):
    path = tmp_path / "passwd"
    path.write_text("alice:$7$101$c2FsdA==$aGFzaA==\nbob has no hash\n")
    with pytest.raises(ConfigError, match=rf"{path}, line 2: not a 'NAME:\$7\$\.\.\.' password line"):
        PasswordFile.load(path)


def test_password_hashes_are_mosquittos(tmp_path):
    encoded = hash_password("secret", iterations=101, salt=b"0123456789ab")
    assert encoded.startswith("$7$101$MDEyMzQ1Njc4OWFi$") and verify_password("secret", encoded)
    assert not verify_password("Secret", encoded)
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed")
    path = tmp_path / "made-by-mosquitto"
    subprocess.run([tool, "-b", "-c", str(path), "alice", "from mosquitto"], check=True)
    assert PasswordFile.load(path).check("alice", "from mosquitto") is not None


def _users(*argv: str, stdin: str = "") -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    users.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["users", *argv])
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdin", io.StringIO(stdin))
        mp.setattr("sys.stdout", out)
        code = users.run(args)
    return code, out.getvalue()


def test_users_command_manages_the_file_the_broker_reads(tmp_path, start_broker, clients):
    path = tmp_path / "broker" / "passwd"
    assert _users("add", "lens_7", "--password-stdin", "--file", str(path), stdin="s3cret\n")[0] == 0
    code, out = _users("add", "teacher", "--instructor", "--generate", "--file", str(path))
    generated = out.split("password (shown once): ")[1].strip()
    assert code == 0 and len(generated) >= 20
    assert (path.stat().st_mode & 0o777) == 0o600
    code, out = _users("list", "--file", str(path))
    assert "lens_7" in out and "teacher" in out and "instructor" in out and "2 user(s)" in out
    b = start_broker(password_file=path)
    assert clients(b.port, "lens_7", "s3cret").accepted and clients(b.port, "teacher", generated).accepted
    assert _users("remove", "lens_7", "--file", str(path))[0] == 0
    assert _users("remove", "lens_7", "--file", str(path))[0] == 2
    assert "lens_7" not in PasswordFile.load(path).users
    assert _users("add", "bad/name", "--generate", "--file", str(path))[0] == 2


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out",
                    "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   cwd=folder, check=True, capture_output=True)
    return folder / "cert.pem", folder / "key.pem"


def test_mqtt_over_tls_beside_plain_tcp(start_broker, clients, certificate):
    cert, key = certificate
    b = start_broker(tls_port=0, tls_cert=cert, tls_key=key)
    assert b.tls_port and b.tls_port != b.port
    secure = clients(b.tls_port, tls_ca=str(cert))
    assert secure.accepted and secure.subscribe("tls/#") == [1]
    plain = clients(b.port)
    plain.publish("tls/hello", b"over plain TCP")
    assert eventually(lambda: secure.messages == [("tls/hello", b"over plain TCP")])


def test_tls_only_and_a_bad_key_is_a_clear_error(start_broker, clients, certificate, tmp_path):
    cert, key = certificate
    b = start_broker(port=None, tls_port=0, tls_cert=cert, tls_key=key, connect_timeout=0.5)
    assert clients(b.tls_port, tls_ca=str(cert)).accepted
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=10) as silent:  # no TLS handshake
        assert silent.recv(100) == b""
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(ConfigError, match="cannot load the broker's TLS certificate"):
        start_broker(tls_port=0, tls_cert=cert, tls_key=bad)


def test_a_broker_that_refuses_the_credentials_gets_a_hint_about_them(start_broker, password_file, tmp_path,
                                                                      monkeypatch, video_file, tiny_artifacts):
    from simulator.config import RunConfig
    from simulator.core import SimulatedDevice
    from simulator.errors import SimulatorError
    from tests.conftest import ROOT

    monkeypatch.setenv("DEEPLENS_SIM_HOME", str(tmp_path / "home"))
    b = start_broker(password_file=password_file)
    config = RunConfig(project=str(ROOT / "tests/lambdas/style2018"), source=str(video_file), artifacts=tiny_artifacts,
                       broker=f"127.0.0.1:{b.port}", thing_name="thing_a", broker_username="thing_a",
                       broker_password="wrong", http_port=0, cloud_port=0)
    device = SimulatedDevice(config)
    with pytest.raises(SimulatorError) as caught:
        device.start()
    assert "refused" in str(caught.value) and "--broker-username" in (caught.value.hint or ""), str(caught.value)
