"""Paho clients that record what the broker answered, for the broker's tests (``clients`` fixture in conftest)."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt

from simulator.ipc.mqtt import disconnect_and_stop


class Client:
    """A paho client that records its CONNACK, SUBACKs, messages and disconnections (no reconnecting)."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None,
                 tls_ca: str | None = None) -> None:
        self.connack: str | None = None
        self.granted: list[int] = []
        self.messages: list[tuple[str, bytes]] = []
        self.disconnected = threading.Event()
        self._events = {name: threading.Event() for name in ("connack", "suback")}
        self._c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"auth-test-{time.monotonic_ns()}")
        self._c.reconnect_delay_set(60, 60)
        if username is not None:
            self._c.username_pw_set(username, password)
        if tls_ca is not None:
            self._c.tls_set(ca_certs=tls_ca)
        self._c.on_connect = self._on_connect
        self._c.on_subscribe = self._on_subscribe
        self._c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self._c.on_disconnect = lambda *a: self.disconnected.set()
        self._c.connect("127.0.0.1", port)
        self._c.loop_start()
        assert self._events["connack"].wait(10), "no CONNACK"

    def _on_connect(self, client, userdata, flags, rc, properties=None) -> None:
        self.connack = str(rc)
        self._events["connack"].set()

    def _on_subscribe(self, client, userdata, mid, codes, properties=None) -> None:
        self.granted = [c.value for c in codes]
        self._events["suback"].set()

    @property
    def accepted(self) -> bool:
        return self.connack == "Success"

    def subscribe(self, topic_filter: str) -> list[int]:
        self._events["suback"].clear()
        self._c.subscribe(topic_filter, qos=1)
        assert self._events["suback"].wait(10), "no SUBACK"
        return self.granted

    def publish(self, topic: str, payload: bytes = b"x") -> None:
        self._c.publish(topic, payload, qos=1)

    def stop(self) -> None:
        disconnect_and_stop(self._c)


def eventually(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False
