"""``impl="mosquitto"``: the embedded broker's roles and limits, carried out by a mosquitto child process.

The configuration, a password file (the user file's hashes plus the per-run credentials, hashed) and an ACL file
are generated in a private temporary folder; issuing credentials or hosting a thing rewrites them and reloads
mosquitto (SIGHUP). The ACL file holds the roles of acl.py: every user writes ``$aws/things/%u/#`` and
``deeplens/%u/#`` (``pattern`` lines) and reads all things' topics; instructors read and write everything;
anonymous clients read everything and publish nothing (stricter than the amqtt broker, which lets them publish
outside the hosted things' topics: mosquitto's ``topic deny`` would stop them reading those topics too).

Differences from the amqtt broker: mosquitto's packet limit covers the whole packet (``max_packet_bytes`` plus
room for the topic); it answers a refused subscription with success and then delivers nothing; it drops (rather
than disconnects for) a full QoS 1 queue; and it closes a socket without CONNECT on its own schedule.
``stats()`` reads mosquitto's log and its ``$SYS/broker/clients/connected`` topic.
"""

from __future__ import annotations

import getpass
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from simulator.aio_thread import check_port
from simulator.broker.acl import Policy
from simulator.broker.passwords import hash_password
from simulator.broker.settings import TOPIC_ROOM, BrokerSettings
from simulator.broker.stats import BrokerStats, Counters
from simulator.errors import ConfigError, SimulatorError
from simulator.ipc.mqtt import disconnect_and_stop

MOSQUITTO = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")
LOG_COUNTERS = (
    (re.compile(r"New client connected from .* as "), "accepted"),
    (re.compile(r"disconnected, not authori[sz]ed"), "refused_auth"),
    (re.compile(r"has exceeded timeout, disconnecting"), "timeouts"),
    (re.compile(r"already connected, closing old connection"), "takeovers"),
    (re.compile(r"Outgoing messages are being dropped"), "qos0_dropped"),
    (re.compile(r"disconnected due to (malformed|protocol)"), "protocol_errors"),
)
RUNNING = re.compile(r"^mosquitto version \S+ running$")  # logged once its signal handlers are set
STATS_USER = "deeplens-sim-broker-stats"


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or next((p for p in MOSQUITTO if os.path.exists(p)), None)
    if found is None:
        raise ConfigError("the MQTT broker implementation 'mosquitto' is not installed",
                          hint="install it (Debian: apt-get install mosquitto) or use the default broker (amqtt)")
    return found


def acl_text(policy: Policy) -> str:
    lines = ["# anonymous clients (mosquitto's 'deny' would also stop them reading the hosted things: read-only)",
             "topic read #", "topic read $aws/#"]
    lines += ["", "# every user: its own thing's topics",
              "pattern write $aws/things/%u/#", "pattern write deeplens/%u/#"]
    users = dict(policy.passwords.users) if policy.passwords is not None else {}
    roles = {name: user.role for name, user in users.items()}
    roles.update({name: role for name, (_, role) in policy.issued().items()})
    for name, role in sorted(roles.items()):
        lines += ["", f"user {name}", "topic read $aws/things/#", "topic read deeplens/#"]
        if role == "instructor":
            lines += ["topic readwrite #", "topic readwrite $aws/#", "topic read $SYS/#"]
    return "\n".join(lines) + "\n"


def passwd_text(policy: Policy) -> str:
    hashes = {name: user.hash for name, user in (policy.passwords.users.items() if policy.passwords else [])}
    for name, (password, _) in policy.issued().items():
        if ":" in name:
            raise ConfigError(f"thing name {name!r} cannot be a mosquitto user (':' ends a user name there)",
                              hint="use a thing name without ':' with impl='mosquitto', or the default broker (amqtt)")
        hashes[name] = hash_password(password, iterations=101)
    return "".join(f"{name}:{h}\n" for name, h in hashes.items())


def conf_text(settings: BrokerSettings, folder: Path, port: int | None, tls_port: int | None) -> str:
    s = settings
    lines = [
        f"user {getpass.getuser()}", "per_listener_settings false", "persistence false",
        f"allow_anonymous {'false' if s.password_file else 'true'}",
        f"password_file {folder / 'passwd'}", f"acl_file {folder / 'acl'}",
        f"max_packet_size {s.max_packet_bytes + TOPIC_ROOM + 5}", f"max_inflight_messages {s.max_inflight_per_client}",
        f"max_queued_messages {s.max_queued_per_client}", f"max_queued_bytes {s.max_queued_bytes_per_client}",
        f"persistent_client_expiration {max(1, math.ceil(s.session_expiry / 3600))}h", "sys_interval 2",
        "log_dest stderr", "log_type error", "log_type warning", "log_type notice", "log_type information",
        "connection_messages true", "log_timestamp false",
    ]
    for listen_port, tls in ((port, False), (tls_port, True)):
        if listen_port is None:
            continue
        lines += [f"listener {listen_port} {s.host}", f"max_connections {s.max_connections}"]
        if tls:
            lines += [f"certfile {s.tls_cert}", f"keyfile {s.tls_key}"]
    return "\n".join(lines) + "\n"


class MosquittoBroker:
    def __init__(self, settings: BrokerSettings, policy: Policy) -> None:
        self.settings, self.policy = settings, policy
        self.binary = find_mosquitto()
        self.port: int = 0
        self.tls_port: int | None = None
        self.counters = Counters()
        self.connected = 0
        self.log_tail: deque[str] = deque(maxlen=20)
        self._reloads = 0
        self._reloaded = threading.Condition()
        self._running = threading.Event()  # mosquitto logged "running": its signal handlers are in place
        self._folder = Path(tempfile.mkdtemp(prefix="deeplens-mosquitto-"))
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._watcher: Any = None  # a paho client following $SYS

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _write_files(self) -> None:
        for name, text in (("passwd", passwd_text(self.policy)), ("acl", acl_text(self.policy))):
            path = self._folder / name
            path.write_text(text, encoding="utf-8")
            path.chmod(0o600)

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        """Start mosquitto and wait for its "running" line. Listening is not enough: mosquitto opens its sockets
        before it sets its signal handlers, and a SIGHUP (``reload``) in between ends the process."""
        s, hint = self.settings, "choose another port (0 picks a free one)"
        self.port = check_port(s.host, s.port, "MQTT", hint) if s.port is not None else 0
        self.tls_port = check_port(s.host, s.tls_port, "MQTT over TLS", hint) if s.tls_port is not None else None
        watcher = self.policy.issue_credentials(STATS_USER, "instructor") if s.port is not None else None
        self._write_files()
        conf = self._folder / "mosquitto.conf"
        conf.write_text(conf_text(s, self._folder, self.port if s.port is not None else None, self.tls_port))
        self._proc = subprocess.Popen([self.binary, "-c", str(conf)], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read_log, name="mosquitto-log", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._running.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SimulatorError("mosquitto did not start: " + " | ".join(self.log_tail))
        if watcher is not None:
            self._watch_clients(*watcher)
        return self

    def _read_log(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            self.log_tail.append(line.strip())
            if RUNNING.match(line.strip()):
                self._running.set()
            if "Reloading config" in line:
                with self._reloaded:
                    self._reloads += 1
                    self._reloaded.notify_all()
            for pattern, counter in LOG_COUNTERS:
                if pattern.search(line):
                    setattr(self.counters, counter, getattr(self.counters, counter) + 1)

    def _watch_clients(self, user: str, password: str) -> None:
        """Follow ``$SYS/broker/clients/connected`` with an instructor's per-run credentials."""
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{user}-{os.getpid()}")
        client.username_pw_set(user, password)
        client.on_connect = lambda c, u, f, rc, p=None: c.subscribe("$SYS/broker/clients/connected")
        client.on_message = lambda c, u, msg: setattr(self, "connected", int(msg.payload or 0))
        client.connect_async(self.settings.host if self.settings.loopback else "127.0.0.1", self.port)
        client.loop_start()
        self._watcher = client

    def reload(self) -> None:
        """Rewrite the password and ACL files and have mosquitto read them again (waits until it has)."""
        self._write_files()
        if self._proc is None or self._proc.poll() is not None:
            return
        with self._reloaded:
            wanted = self._reloads + 1
            self._proc.send_signal(signal.SIGHUP)
            self._reloaded.wait_for(lambda: self._reloads >= wanted, timeout=5)

    def stats(self) -> BrokerStats:
        return self.counters.snapshot("mosquitto", self.connected, self.connected)

    def stop(self) -> None:
        if self._watcher is not None:
            disconnect_and_stop(self._watcher)
            self._watcher = None
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._reader is not None:
            self._reader.join(2)
        shutil.rmtree(self._folder, ignore_errors=True)
