"""MQTT 3.1.1 packets built by hand, for raw sockets that misbehave on purpose (tests and bench/faults.py)."""

from __future__ import annotations

import struct


def text_field(value: str | bytes) -> bytes:
    """A length-prefixed UTF-8 string (or bytes)."""
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(raw)) + raw


def remaining_length(n: int) -> bytes:
    """The fixed header's variable-length encoding of ``n``."""
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id: str, keepalive: int = 60, clean: bool = True,
                   will: tuple[str, bytes] | None = None) -> bytes:
    flags = (0x02 if clean else 0) | (0x04 if will else 0)
    body = text_field("MQTT") + bytes((4, flags)) + struct.pack("!H", keepalive) + text_field(client_id)
    if will:
        body += text_field(will[0]) + text_field(will[1])
    return b"\x10" + remaining_length(len(body)) + body


def subscribe_packet(topic_filter: str, qos: int = 0, pid: int = 1) -> bytes:
    body = struct.pack("!H", pid) + text_field(topic_filter) + bytes((qos,))
    return b"\x82" + remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes, qos: int = 0, pid: int = 1) -> bytes:
    """A PUBLISH; at QoS 1 or 2 it carries the packet id ``pid``."""
    body = text_field(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return bytes((0x30 | qos << 1,)) + remaining_length(len(body)) + body
