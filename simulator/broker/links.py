"""The amqtt broker's open connections: one ``Link`` per socket, from accept to close, and the table of them.

A link knows its socket's adapters (streams.py), once its CONNECT is accepted its client id, amqtt session and
handler, and once its CONNACK is sent its outbox (delivery.py). ``LinkTable.live`` maps each connected client id
to its link: what routing delivers to, and what a takeover closes. ``finished`` is set when amqtt has ended the
connection (will sent, session marked disconnected).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.broker.delivery import Outbox
    from simulator.broker.logfilter import LogThrottle
    from simulator.broker.stats import Counters
    from simulator.broker.streams import GuardedReader, GuardedWriter

class Link:
    """One socket of the broker."""

    def __init__(self, stream: asyncio.StreamWriter) -> None:
        self.stream = stream
        peer = stream.get_extra_info("peername")
        self.peer: tuple[str, int] = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else (str(peer), 0)
        self.reader: GuardedReader
        self.writer: GuardedWriter
        self.client_id = ""
        self.session: Any = None  # amqtt's Session, once the CONNECT is accepted
        self.handler: Any = None  # amqtt's BrokerProtocolHandler
        self.outbox: Outbox | None = None  # once the CONNACK is sent
        self.finished = asyncio.Event()

    @property
    def name(self) -> str:
        where = f"{self.peer[0]}:{self.peer[1]}"
        return f"{self.client_id} ({where})" if self.client_id else where

    def connected(self, client_id: str, session: Any, handler: Any) -> None:
        self.client_id, self.session, self.handler = client_id, session, handler


class LinkTable:
    def __init__(self, counters: Counters, throttle: LogThrottle) -> None:
        self.counters, self.throttle = counters, throttle
        self._links: dict[Any, Link] = {}  # reader -> link
        self.live: dict[str, Link] = {}  # client id -> the link of its current connection

    @property
    def open(self) -> int:
        """Sockets open now (not counting those being closed)."""
        return sum(1 for reader in self._links if not reader.closed)

    @property
    def clients(self) -> int:
        """Connected clients (CONNACK sent, not being closed)."""
        return sum(1 for link in self.live.values() if link.outbox is not None and not link.reader.closed)

    def add(self, link: Link) -> None:
        self._links[link.reader] = link

    def by_reader(self, reader: Any) -> Link:
        return self._links[reader]

    def closed(self, link: Link) -> None:
        self._links.pop(link.reader, None)
        if self.live.get(link.client_id) is link:
            del self.live[link.client_id]
        link.finished.set()

    def refused(self, link: Link, kind: str, why: str) -> None:
        """A socket closed by its reader (streams.py): counted under ``kind`` and logged (rate-limited)."""
        setattr(self.counters, kind, getattr(self.counters, kind) + 1)
        self.throttle.warning(kind, "MQTT client %s disconnected: %s", link.name, why)

    def close_all(self) -> None:
        for link in list(self._links.values()):
            link.reader.close()
            if link.outbox is not None:
                link.outbox.close()
