"""MQTT 3.1.1 (and 3.1) packets: the fixed header, decoding what clients send, encoding what the broker sends."""

from __future__ import annotations

import struct
from dataclasses import dataclass

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

PROTOCOLS = {(b"MQTT", 4), (b"MQIsdp", 3)}
CONNACK_BAD_PROTOCOL = 1
CONNACK_BAD_CLIENT_ID = 2

PINGRESP_PACKET = b"\xd0\x00"
_U16 = struct.Struct("!H")


class ProtocolError(Exception):
    """A malformed packet or one the broker must answer by closing the connection."""


def fixed_header(buf: bytearray | bytes, pos: int) -> tuple[int, int, int] | None:
    """(first byte, remaining length, offset of the variable header) of the packet at ``pos``, or None until
    enough bytes have arrived. A remaining length longer than 4 bytes is a ProtocolError."""
    end = len(buf)
    if pos + 2 > end:
        return None
    length, multiplier, i = 0, 1, pos + 1
    while True:
        if i >= end:
            return None
        byte = buf[i]
        length += (byte & 0x7F) * multiplier
        i += 1
        if not byte & 0x80:
            return buf[pos], length, i
        multiplier *= 128
        if multiplier > 128 ** 3:
            raise ProtocolError("remaining length longer than 4 bytes")


def encode_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise ProtocolError("packet too short")
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        if self.pos + 2 > len(self.data):
            raise ProtocolError("packet too short")
        self.pos += 2
        return _U16.unpack_from(self.data, self.pos - 2)[0]

    def binary(self) -> bytes:
        n = self.u16()
        if self.pos + n > len(self.data):
            raise ProtocolError("string longer than the packet")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def text(self) -> str:
        raw = self.binary()
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("string is not UTF-8") from None
        if "\x00" in value:
            raise ProtocolError("string contains U+0000")
        return value

    def rest(self) -> bytes:
        return self.data[self.pos:]

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


@dataclass(frozen=True)
class Connect:
    protocol: bytes
    level: int
    clean: bool
    keepalive: int
    client_id: str
    will: tuple[str, bytes, int, bool] | None  # topic, payload, qos, retain
    username: str | None
    password: bytes | None


def decode_connect(body: bytes) -> Connect:
    r = _Reader(body)
    protocol, level = r.binary(), r.u8()
    flags, keepalive = r.u8(), r.u16()
    if (protocol, level) not in PROTOCOLS:
        return Connect(protocol, level, True, keepalive, "", None, None, None)
    if flags & 0x01:
        raise ProtocolError("CONNECT reserved flag set")
    will_qos = (flags >> 3) & 0x03
    if will_qos == 3 or (not flags & 0x04 and flags & 0x38):
        raise ProtocolError("invalid will flags")
    if flags & 0x40 and not flags & 0x80:
        raise ProtocolError("password without user name")
    client_id = r.text()
    will = (r.text(), r.binary(), will_qos, bool(flags & 0x20)) if flags & 0x04 else None
    username = r.text() if flags & 0x80 else None
    password = r.binary() if flags & 0x40 else None
    return Connect(protocol, level, bool(flags & 0x02), keepalive, client_id, will, username, password)


def decode_publish(flags: int, body: bytes) -> tuple[str, int, bool, int, bytes]:
    """(topic, qos, retain, packet id, payload)."""
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    r = _Reader(body)
    topic = r.text()
    pid = r.u16() if qos else 0
    if qos and pid == 0:
        raise ProtocolError("PUBLISH with packet id 0")
    return topic, qos, bool(flags & 0x01), pid, r.rest()


def decode_subscribe(body: bytes) -> tuple[int, list[tuple[str, int]]]:
    r = _Reader(body)
    pid, topics = r.u16(), []
    while not r.done:
        topic, qos = r.text(), r.u8()
        if qos & 0xFC:
            raise ProtocolError("SUBSCRIBE with invalid QoS byte")
        topics.append((topic, qos))
    if not topics:
        raise ProtocolError("SUBSCRIBE without topic filters")
    return pid, topics


def decode_unsubscribe(body: bytes) -> tuple[int, list[str]]:
    r = _Reader(body)
    pid, topics = r.u16(), []
    while not r.done:
        topics.append(r.text())
    if not topics:
        raise ProtocolError("UNSUBSCRIBE without topic filters")
    return pid, topics


def decode_packet_id(body: bytes) -> int:
    if len(body) != 2:
        raise ProtocolError("acknowledgement of the wrong length")
    return _U16.unpack(body)[0]


def connack(session_present: bool, code: int) -> bytes:
    return bytes((0x20, 2, 1 if session_present and code == 0 else 0, code))


def ack(kind: int, pid: int) -> bytes:
    """PUBACK, PUBREC, PUBCOMP or UNSUBACK (PUBREL carries the flags 0b0010)."""
    return bytes((kind << 4 | (2 if kind == PUBREL else 0), 2)) + _U16.pack(pid)


def suback(pid: int, codes: list[int]) -> bytes:
    return bytes((SUBACK << 4,)) + encode_length(2 + len(codes)) + _U16.pack(pid) + bytes(codes)


def topic_field(topic: str) -> bytes:
    raw = topic.encode("utf-8")
    return _U16.pack(len(raw)) + raw


def publish(topic_field_: bytes, payload: bytes, qos: int, retain: bool = False, pid: int = 0,
            dup: bool = False) -> bytes:
    first = PUBLISH << 4 | qos << 1 | (0x08 if dup else 0) | (0x01 if retain else 0)
    if qos:
        return bytes((first,)) + encode_length(len(topic_field_) + 2 + len(payload)) + topic_field_ \
            + _U16.pack(pid) + payload
    return bytes((first,)) + encode_length(len(topic_field_) + len(payload)) + topic_field_ + payload
