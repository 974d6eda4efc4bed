"""The embedded MQTT broker's settings, and the limits that keep one broker serving a whole classroom.

Limits and faults (each one is a ``BrokerSettings`` field; the defaults are what the simulator runs with):

- ``max_packet_bytes`` = 131072 (128 KiB, AWS IoT Core's payload limit): a PUBLISH whose payload is larger is
  refused and its client disconnected. A packet whose fixed header announces more than this plus 64 KiB (room for
  the topic) is refused as soon as the header arrives, before any of it is buffered.
- ``connect_timeout`` = 5 s: a socket that has not completed its CONNECT by then (silent, or half a packet) is
  closed.
- ``max_connections`` = 1000: sockets beyond it are closed as soon as they are accepted. At start the broker's
  process raises its open-files limit (soft towards hard) to fit them, or lowers max_connections to what fits.
  The broker runs in a process of its own, so its sockets never take the simulator's file descriptors (the web
  viewer keeps working). A TLS handshake must also finish within ``connect_timeout``.
- Keep-alive: a client silent for 1.5 × its keep-alive (MQTT 3.1.1 §3.1.2.10) is disconnected and its will sent.
- ``max_inflight_per_client`` = 100 QoS 1 messages sent and not yet acknowledged (as AWS IoT Core); more wait in
  the client's queue.
- ``max_queued_per_client`` = 5000 messages and ``max_queued_bytes_per_client`` = 8 MiB waiting for one client
  that does not read fast enough: past either bound its QoS 0 messages are dropped (counted) and a QoS 1 message
  disconnects it (a slow consumer). Other subscribers are never held up by it. A publisher that never reads its
  acknowledgements is not read from once 1 MiB of them wait for it.
- ``session_expiry`` = 3600 s: a persistent session (clean session = 0) left without a connection is forgotten
  after this; while it waits, its QoS 1 messages are kept up to the same queue bounds.
- ``max_retained`` = 10000 retained topics; a new retained topic beyond it is not kept (counted as a drop).
- QoS 2 is accepted from publishers (the full handshake; at most ``max_inflight_per_client`` of a client's QoS 2
  messages may await their PUBREL, past that it is disconnected) and delivered at QoS 1 at most, as AWS IoT Core
  does. A message reaches each subscriber once, at the lower of its publish QoS and the subscription's.
- Client-id takeover: a CONNECT with the client id of a connected client disconnects the older connection
  (MQTT 3.1.1 §3.1.4) and sends its will.
- Refusals: a publish that the client may not make (see simulator/broker/acl.py), to a ``$`` topic other than
  ``$aws/...``, or too large is dropped, counted, and its client disconnected — as AWS IoT Core disconnects a
  client on a policy violation. A refused subscription is answered with the SUBACK failure code 0x80 (counted).
  Wrong credentials get CONNACK 4, absent ones (when required) CONNACK 5.
- Logs: each kind of refusal or drop is logged at most once per ``log_interval`` = 60 s, with a count of the others.

``password_file`` holds mosquitto ``$7$`` PBKDF2-SHA512 hashes (see simulator/broker/passwords.py), so the same file
works with a mosquitto broker. Without it, the broker must listen on loopback only (a ``ConfigError`` otherwise).
``impl`` chooses the broker: ``amqtt`` (amqtt, hardened by this package: always available, the default) or
``mosquitto`` (a mosquitto child process with a generated configuration, when ``/usr/sbin/mosquitto`` is installed;
the choice for a large classroom on one machine, see bench/broker_capacity.py).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_PAYLOAD = 128 * 1024
TOPIC_ROOM = 65536  # a topic (2-byte length + up to 65,535 bytes) and a packet id on top of the payload


class BrokerSettings(BaseModel):
    """Where the embedded broker listens and the limits it enforces (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int | None = Field(1883, ge=0, le=65535, description="plain MQTT port (0: any free one; None: no plain "
                                                               "listener)")
    tls_port: int | None = Field(None, ge=0, le=65535, description="MQTT over TLS port (8883 by convention)")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    password_file: Path | None = None
    max_packet_bytes: int = Field(MAX_PAYLOAD, ge=1024, le=256 * 1024 * 1024)
    max_connections: int = Field(1000, ge=1)
    connect_timeout: float = Field(5.0, gt=0)
    max_inflight_per_client: int = Field(100, ge=1, le=65535)
    max_queued_per_client: int = Field(5000, ge=1)
    max_queued_bytes_per_client: int = Field(8 * 1024 * 1024, ge=1024)
    session_expiry: float = Field(3600.0, gt=0)
    max_retained: int = Field(10000, ge=0)
    log_interval: float = Field(60.0, gt=0)
    impl: Literal["amqtt", "mosquitto"] = "amqtt"

    @model_validator(mode="after")
    def _listeners(self) -> BrokerSettings:
        if self.port is None and self.tls_port is None:
            raise ValueError("give a port, a tls_port or both")
        if self.tls_port is not None and (self.tls_cert is None or self.tls_key is None):
            raise ValueError("tls_port needs tls_cert and tls_key")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self

    @property
    def loopback(self) -> bool:
        """True when the broker listens on a loopback address only."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def header_limit(self) -> int:
        """The largest remaining length accepted when a packet's fixed header arrives."""
        return self.max_packet_bytes + TOPIC_ROOM
