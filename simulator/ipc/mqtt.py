"""A small publish / subscribe / stop face over paho-mqtt, used by Lambdas, the core, rules and the viewers.

Publishes are QoS 1 with a bounded queue: a Lambda that publishes in a tight loop gets messages dropped (and
counted) instead of memory growing without bound, and a publish never blocks the caller. Client ids end in a
random part (another client cannot take the session over by guessing it), and every (re)connection subscribes
again to every filter, so a session that was lost or taken over comes back whole.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

MAX_QUEUED = 1000
# "Bad user name or password" and "Not authorized" (paho gives MQTT 3.1.1's CONNACK 4 and 5 these MQTT 5 codes)
CREDENTIALS_REFUSED = frozenset({134, 135})


def disconnect_and_stop(client: mqtt.Client) -> None:
    """``client.disconnect()``, then stop its network thread (started by ``loop_start``).

    paho's ``loop_stop`` checks ``client._thread`` and then joins it, while the thread sets it to None as it ends:
    after a disconnect the thread may end in between, and ``loop_stop`` raises AttributeError
    (eclipse-paho/paho.mqtt.python#872, open in paho-mqtt 2.2). The thread is past its loop by then: it stopped.
    """
    try:
        client.disconnect()
    finally:
        try:
            client.loop_stop()
        except AttributeError:
            if getattr(client, "_thread", None) is not None:  # not the race: a real error
                raise


class CredentialsRefusedError(ConnectionError):
    """The broker answered, and refused the user name or password (or this client is not authorized)."""

MessageHandler = Callable[[str, bytes], None]


class TlsFiles(BaseModel):
    """Certificates for a TLS broker such as AWS IoT Core (port 8883): CA, client certificate and key (PEM)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


class MqttLink:
    def __init__(self, host: str, port: int, client_id: str | None = None, qos: int = 1,
                 tls: TlsFiles | None = None, username: str | None = None, password: str | None = None) -> None:
        self.host, self.port, self.qos = host, port, qos
        self.client_id = f"{client_id or 'deeplens-sim'}-{secrets.token_hex(4)}"
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id)
        self._client.max_queued_messages_set(MAX_QUEUED)
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls is not None:
            self._client.tls_set(ca_certs=tls.ca, certfile=tls.cert, keyfile=tls.key)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._subs: dict[str, MessageHandler] = {}
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.dropped = 0
        self.published = 0
        self.refused: str | None = None  # why the broker refused the last connection attempt
        self._credentials_refused = False  # ... and it was the user name or password
        self.disconnects = 0  # connections lost (paho reconnects)
        self._last: mqtt.MQTTMessageInfo | None = None

    def start(self, timeout: float = 10.0) -> MqttLink:
        """Connect, waiting up to ``timeout`` s; refused credentials fail at once (asking again will not help)."""
        self._client.connect_async(self.host, self.port, keepalive=30)
        self._client.loop_start()
        deadline = time.monotonic() + timeout
        while not self.connected.wait(0.05) and time.monotonic() < deadline and not self._credentials_refused:
            pass
        if not self.connected.is_set():
            refused = self.refused
            self.stop()
            why = f"it refused the connection: {refused}" if refused else "no answer"
            error = CredentialsRefusedError if self._credentials_refused else ConnectionError
            raise error(f"cannot connect to the MQTT broker at {self.host}:{self.port} ({why})")
        return self

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
            self._credentials_refused = reason_code.value in CREDENTIALS_REFUSED
            log.warning("MQTT connect to %s:%s refused: %s", self.host, self.port, reason_code)
            return
        self.refused = None
        with self._lock:
            filters = list(self._subs)
        for f in filters:
            client.subscribe(f, qos=self.qos)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        self.disconnects += 1
        self.connected.clear()  # paho reconnects by itself; _on_connect subscribes again

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            handlers = [h for f, h in self._subs.items() if mqtt.topic_matches_sub(f, msg.topic)]
        for handler in handlers:
            try:
                handler(msg.topic, msg.payload)
            except Exception:  # noqa: BLE001 - one bad handler must not stop delivery
                log.exception("MQTT handler for %s failed", msg.topic)

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        with self._lock:
            self._subs[topic_filter] = handler
        if self.connected.is_set():
            self._client.subscribe(topic_filter, qos=self.qos)

    def publish(self, topic: str, payload: bytes | str = b"", retain: bool = False) -> bool:
        """Queue a message; False (and counted in ``dropped``) if the queue is full."""
        info = self._client.publish(topic, payload, qos=self.qos, retain=retain)
        self._last = info
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.dropped += 1
            return False
        self.published += 1
        return True

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Send what is queued (up to ``flush_timeout`` s: a device's last messages, such as 'offline'), then
        disconnect."""
        last = self._last
        if last is not None and self.connected.is_set():
            try:
                last.wait_for_publish(flush_timeout)
            except (RuntimeError, ValueError):
                pass
        disconnect_and_stop(self._client)
