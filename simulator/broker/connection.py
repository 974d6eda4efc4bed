"""One client socket of the embedded broker: framing, the packet-size limit, flow control, closing.

A packet whose fixed header announces more than the limit closes the connection before its body is read. While
the socket's write buffer is over its high-water mark the connection is ``paused`` and its session queues instead
of writing (see session.py). Everything else — what a packet means — is the broker core's (server.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from simulator.broker import codec

if TYPE_CHECKING:
    from simulator.broker.server import BrokerCore
    from simulator.broker.session import Session

WRITE_HIGH_WATER = 256 * 1024
WRITE_LOW_WATER = 64 * 1024
CONTROL_BACKLOG = 4 * WRITE_HIGH_WATER  # bytes written while paused (acknowledgements) before reading pauses too


class Connection(asyncio.Protocol):
    def __init__(self, core: BrokerCore, tls: bool = False) -> None:
        self.core = core
        self.tls = tls
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.session: Session | None = None
        self.connected = False  # CONNECT accepted
        self.keepalive = 0.0
        self.opened = self.last_rx = time.monotonic()
        self.paused = False
        self.reading_paused = False
        self.held = False  # waiting for a password check: packets stay in the buffer
        self.closing = False
        self.clean_disconnect = False
        self.client_id = ""
        self.will: tuple[str, bytes, int, bool] | None = None  # topic, payload, QoS, retain
        self._buf = bytearray()

    # -- asyncio.Protocol -----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER, low=WRITE_LOW_WATER)
        self.core.opened(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_rx = time.monotonic()
        self._buf += data
        if not self.held:
            self.process()

    def pause_writing(self) -> None:
        """The client does not read as fast as the broker sends: its session queues messages meanwhile."""
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.reading_paused and self.transport is not None and not self.closing:
            self.reading_paused = False
            self.transport.resume_reading()
        if self.session is not None:
            self.session.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.core.closed(self)

    # -- framing --------------------------------------------------------------------------------------------
    def process(self) -> None:
        """Hand every complete packet in the buffer to the core (until the connection is held or closed)."""
        buf, pos, core = self._buf, 0, self.core
        limit = core.settings.header_limit
        try:
            while not self.held and not self.closing:
                header = codec.fixed_header(buf, pos)
                if header is None:
                    break
                first, length, start = header
                if length > limit:
                    core.refuse_oversize(self, length)
                    return
                if start + length > len(buf):
                    break
                body = bytes(buf[start:start + length])
                pos = start + length
                core.packet(self, first, body)
        except codec.ProtocolError as exc:
            core.protocol_error(self, str(exc))
            return
        if pos:
            del buf[:pos]

    def hold(self) -> None:
        self.held = True

    def release(self) -> None:
        self.held = False
        if not self.closing:
            self.process()

    # -- output ---------------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        transport = self.transport
        if self.closing or transport is None:
            return
        transport.write(data)
        if self.paused and not self.reading_paused and transport.get_write_buffer_size() > CONTROL_BACKLOG:
            # Only acknowledgements are written while paused: a client that publishes and never reads them is
            # not read from until it catches up, so its backlog stays bounded.
            self.reading_paused = True
            transport.pause_reading()

    def close(self) -> None:
        """Close after what was written is sent (a CONNACK refusal, a DISCONNECT)."""
        if not self.closing and self.transport is not None:
            self.closing = True
            self.transport.close()

    def abort(self) -> None:
        """Close now, dropping anything not yet sent (a client that does not read, a violation)."""
        self.closing = True
        if self.transport is not None:
            self.transport.abort()
