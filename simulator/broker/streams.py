"""The socket side of one client of the amqtt broker: amqtt reads and writes through these adapters.

``GuardedReader`` hands amqtt one whole MQTT packet at a time. Before any of a packet is buffered its fixed header
is checked: a remaining length over ``settings.header_limit``, a malformed length or a reserved packet type closes
the connection at once; a PUBLISH whose payload is over ``max_packet_bytes`` is refused before amqtt sees it. A
watchdog closes a socket that has not sent its CONNECT within ``connect_timeout``, or, once connected, a client
silent for 1.5 x its keep-alive (a half-sent packet counts as silence). The reader stops reading a client while
acknowledgements wait unsent to it, or while too many of its messages wait to be routed: a publisher cannot make
the broker buffer without bound. ``GuardedWriter`` closes without waiting forever on a client that does not read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress

from amqtt.adapters import ReaderAdapter, StreamWriterAdapter

CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PUBREL = 1, 3, 8, 10, 6
FLAGS_TWO = (SUBSCRIBE, UNSUBSCRIBE, PUBREL)  # packet types whose fixed-header flags must be 0b0010
UNSENT_LIMIT = 1024 * 1024  # bytes written and not yet sent to a client before the broker stops reading it
INCOMING_LIMIT = 1000  # messages from one client waiting to be routed before the broker stops reading it
CLOSE_WAIT = 2.0  # seconds a closing connection may take to flush what it was sent


class RefusedError(Exception):
    """Why a connection is closed by the reader: ``kind`` is a counter name of stats.Counters."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.kind = kind


def check_fixed_header(first: int, length: int, header_limit: int, expect_connect: bool) -> None:
    """Raise RefusedError for a packet the broker will not read: wrong type or flags, or too long."""
    kind, flags = first >> 4, first & 0x0F
    if expect_connect != (kind == CONNECT):
        raise RefusedError("protocol_errors", "the first packet was not a CONNECT" if expect_connect
                      else "a second CONNECT")
    if kind in (0, 15):
        raise RefusedError("protocol_errors", f"a reserved packet type ({kind})")
    if (kind in FLAGS_TWO and flags != 2) or (kind == PUBLISH and flags & 0x06 == 0x06) \
            or (kind not in FLAGS_TWO and kind != PUBLISH and flags):
        raise RefusedError("protocol_errors", f"packet type {kind} with flags {flags:#x}")
    if length > header_limit:
        raise RefusedError("oversize", f"a packet of {length:,} bytes (over max_packet_bytes)")


def publish_payload_size(first: int, body: bytes) -> int:
    """The payload size of a PUBLISH packet's body (remaining length less topic and packet id)."""
    if len(body) < 2:
        raise RefusedError("protocol_errors", "a PUBLISH without a topic")
    topic_len = int.from_bytes(body[:2], "big")
    return len(body) - 2 - topic_len - (2 if first & 0x06 else 0)


class GuardedReader(ReaderAdapter):
    """amqtt's reader for one socket; ``refuse(kind, why)`` is called once when the reader closes it."""

    def __init__(self, stream: asyncio.StreamReader, writer: asyncio.StreamWriter, *, header_limit: int,
                 max_payload: int, connect_timeout: float, refuse: Callable[[str, str], None]) -> None:
        self._stream, self._writer = stream, writer
        self._header_limit, self._max_payload = header_limit, max_payload
        self._refuse = refuse
        self._packet = b""
        self._pos = 0
        self._header = bytearray()  # the fixed header read so far: kept if amqtt cancels a read
        self._count = 0  # packets read
        self._connected = False
        self.keepalive = 0.0
        self.closed = False
        self.refused = False  # closed by the broker for what the client did (what it sent last is not routed)
        self.incoming: asyncio.Queue | None = None  # the session's queue of messages to route, once connected
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.deadline: float | None = loop.time() + connect_timeout
        self._timer: asyncio.TimerHandle | None = loop.call_at(self.deadline, self._watch)
        self._connect_timeout = connect_timeout

    # -- the watchdog -------------------------------------------------------------------------------------------
    def connected(self, keepalive: float) -> None:
        """The CONNECT was accepted: from now on the deadline is 1.5 x the keep-alive after each packet."""
        self._connected = True
        self.keepalive = keepalive
        self.deadline = self._loop.time() + 1.5 * keepalive if keepalive else None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.deadline is not None and not self.closed:
            self._timer = self._loop.call_at(self.deadline, self._watch)

    def _watch(self) -> None:
        self._timer = None
        if self.closed:
            return
        deadline, now = self.deadline, self._loop.time()
        if deadline is None:
            return
        if now < deadline:
            self._timer = self._loop.call_at(deadline, self._watch)
            return
        why = (f"silent for 1.5 x its keep-alive ({self.keepalive:g} s)" if self._connected
               else f"no CONNECT within {self._connect_timeout:g} s")
        self.close("timeouts", why)

    def _packet_done(self) -> None:
        if self._connected and self.keepalive:
            self.deadline = self._loop.time() + 1.5 * self.keepalive
            if self._timer is None:
                self._timer = self._loop.call_at(self.deadline, self._watch)
        elif self._connected:
            self.deadline = None

    def close(self, kind: str | None = None, why: str = "") -> None:
        """Close the socket now (nothing more is read; amqtt sees the end of the stream); with ``kind``, a
        refusal counted under that counter and logged."""
        if self.closed:
            return
        self.closed = True
        self.refused = kind is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._writer.transport.abort()
        if kind is not None:
            self._refuse(kind, why)

    # -- ReaderAdapter ------------------------------------------------------------------------------------------
    async def read(self, n: int = -1) -> bytes:
        if self._pos >= len(self._packet) and not await self._load():
            return b""
        end = len(self._packet) if n < 0 else self._pos + n
        if end > len(self._packet):
            self.close("protocol_errors", "a packet shorter than its contents")
            return b""
        data = self._packet[self._pos:end]
        self._pos = end
        return data

    def feed_eof(self) -> None:
        self._stream.feed_eof()

    async def _load(self) -> bool:
        """Read the next whole packet into the buffer; False at the end of the stream."""
        if self.closed:
            return False
        try:
            await self._hold_back()
            header = self._header
            if not header:
                header += await self._stream.readexactly(2)  # the shortest fixed header
            while header[-1] & 0x80:
                if len(header) == 5:
                    raise RefusedError("protocol_errors", "a remaining length longer than 4 bytes")
                header += await self._stream.readexactly(1)
            length, multiplier = 0, 1
            for byte in header[1:]:
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
            first = header[0]
            check_fixed_header(first, length, self._header_limit, self._count == 0)
            body = await self._stream.readexactly(length) if length else b""
            if first >> 4 == PUBLISH and publish_payload_size(first, body) > self._max_payload:
                raise RefusedError("oversize", f"a PUBLISH payload of {publish_payload_size(first, body):,} bytes "
                              f"(over max_packet_bytes)")
        except RefusedError as refusal:
            self.close(refusal.kind, str(refusal))
            return False
        except (asyncio.IncompleteReadError, OSError):
            self.close()
            return False
        self._header = bytearray()
        self._count += 1
        self._packet, self._pos = bytes(header) + body, 0
        self._packet_done()
        return True

    async def _hold_back(self) -> None:
        """Wait while acknowledgements pile up unsent to this client, or its messages wait to be routed."""
        transport = self._writer.transport
        if transport.get_write_buffer_size() > UNSENT_LIMIT:
            await self._writer.drain()
        incoming = self.incoming
        while incoming is not None and incoming.qsize() > INCOMING_LIMIT and not self.closed:
            await asyncio.sleep(0.005)


class GuardedWriter(StreamWriterAdapter):
    """amqtt's writer for one socket: closing gives up on a client that does not read after CLOSE_WAIT s."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        super().__init__(writer)
        self.stream = writer

    @property
    def closing(self) -> bool:
        return self.is_closed or self.stream.transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.closing:
            self.stream.write(data)

    def abort(self) -> None:
        self.is_closed = True
        self.stream.transport.abort()

    async def close(self) -> None:
        if self.is_closed:
            return
        self.is_closed = True
        writer = self.stream
        try:
            await asyncio.wait_for(writer.drain(), CLOSE_WAIT)
            if writer.can_write_eof():
                writer.write_eof()
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), CLOSE_WAIT)
        except (asyncio.TimeoutError, OSError, RuntimeError):
            with suppress(Exception):
                writer.transport.abort()
