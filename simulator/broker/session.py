"""A client's session: its subscriptions and its bounded outgoing queue.

Messages go straight to the socket while the client keeps up. When it does not (the socket's write buffer is over
its high-water mark, or ``max_inflight`` QoS 1 messages await PUBACK), they wait in the session's queue, bounded in
count and bytes; past the bound a QoS 0 message is dropped (counted) and a QoS 1 message disconnects the client,
so a stalled subscriber costs a bounded amount of memory and never holds up the others. A persistent session
(clean session = 0) keeps its subscriptions, unacknowledged and queued QoS 1 messages while disconnected.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

from simulator.broker import codec
from simulator.broker.acl import Principal

if TYPE_CHECKING:
    from simulator.broker.connection import Connection
    from simulator.broker.server import BrokerCore


class OutMessage:
    """One published message, shared by every session it goes to."""

    __slots__ = ("topic", "topic_field", "payload", "retain", "_qos0")

    def __init__(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.topic, self.payload, self.retain = topic, payload, retain
        self.topic_field = codec.topic_field(topic)
        self._qos0: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.payload) + len(self.topic_field) + 8

    def qos0_packet(self) -> bytes:
        if self._qos0 is None:
            self._qos0 = codec.publish(self.topic_field, self.payload, 0, self.retain)
        return self._qos0

    def qos1_packet(self, pid: int, dup: bool = False) -> bytes:
        return codec.publish(self.topic_field, self.payload, 1, self.retain, pid, dup)


class Session:
    def __init__(self, core: BrokerCore, client_id: str, clean: bool, principal: Principal) -> None:
        self.core = core
        self.client_id, self.clean, self.principal = client_id, clean, principal
        self.subscriptions: dict[str, int] = {}
        self.conn: Connection | None = None
        self.inflight: dict[int, OutMessage] = {}
        self.queue: deque[tuple[OutMessage, int]] = deque()
        self.queued_bytes = 0
        self.awaiting_rel: set[int] = set()
        self.disconnected_at = 0.0
        self._next_pid = 0

    # -- delivery ------------------------------------------------------------------------------------------
    def deliver(self, msg: OutMessage, qos: int) -> None:
        conn, core = self.conn, self.core
        if conn is None or conn.closing:
            if qos and self._has_room(msg):
                self._enqueue(msg, qos)
            elif qos:
                core.counters.queued_dropped += 1
            return
        core.counters.delivered += 1
        if not self.queue and not conn.paused:
            if not qos:
                conn.write(msg.qos0_packet())
                return
            if len(self.inflight) < core.settings.max_inflight_per_client:
                self._send_qos1(msg)
                return
        if self._has_room(msg):
            self._enqueue(msg, qos)
        elif not qos:
            core.counters.qos0_dropped += 1
            core.throttle.warning("qos0-drop", "client %s cannot keep up: QoS 0 messages dropped (%s ...)",
                                  self.client_id, msg.topic)
        else:
            core.counters.slow_consumer_disconnects += 1
            core.counters.queued_dropped += 1
            core.throttle.warning("slow-consumer", "client %s disconnected: its QoS 1 queue is full "
                                  "(%d messages, %d bytes)", self.client_id, len(self.queue), self.queued_bytes)
            conn.abort()

    def _has_room(self, msg: OutMessage) -> bool:
        s = self.core.settings
        return len(self.queue) < s.max_queued_per_client \
            and self.queued_bytes + msg.size <= s.max_queued_bytes_per_client

    def _enqueue(self, msg: OutMessage, qos: int) -> None:
        self.queue.append((msg, qos))
        self.queued_bytes += msg.size

    def _send_qos1(self, msg: OutMessage) -> None:
        pid = self._next_pid
        while True:
            pid = pid % 65535 + 1
            if pid not in self.inflight:
                break
        self._next_pid = pid
        self.inflight[pid] = msg
        assert self.conn is not None
        self.conn.write(msg.qos1_packet(pid))

    def flush(self) -> None:
        """Send what waits in the queue, as far as the socket and the in-flight window allow."""
        conn, queue, window = self.conn, self.queue, self.core.settings.max_inflight_per_client
        while queue and conn is not None and not conn.paused:
            msg, qos = queue[0]
            if qos and len(self.inflight) >= window:
                break
            queue.popleft()
            self.queued_bytes -= msg.size
            if qos:
                self._send_qos1(msg)
            else:
                conn.write(msg.qos0_packet())

    def acknowledged(self, pid: int) -> None:
        if self.inflight.pop(pid, None) is not None and self.queue:
            self.flush()

    # -- connection changes --------------------------------------------------------------------------------
    def attach(self, conn: Connection) -> None:
        """A (new) connection for this session: unacknowledged messages are sent again (DUP), then the queue."""
        self.conn = conn
        conn.session = self
        for pid, msg in list(self.inflight.items()):
            conn.write(msg.qos1_packet(pid, dup=True))
        self.flush()

    def detach(self) -> None:
        if self.conn is not None:
            self.conn.session = None
        self.conn = None
        self.disconnected_at = time.monotonic()
        self.queue = deque((m, q) for m, q in self.queue if q)  # QoS 0 is not kept for an absent client
        self.queued_bytes = sum(m.size for m, _ in self.queue)
