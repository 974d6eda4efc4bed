"""What one connected client is sent: a bounded queue in front of its socket, ``Outbox``.

Stock amqtt sends each message to each subscriber as a task of its own (``mqtt_publish``: write, drain, wait for
the PUBACK) and keeps every task until the oldest is done, so one subscriber that stops reading holds every
message for everyone in memory. Here a message is written to the client's socket at once (handler.send_publish)
while the socket keeps up and fewer than ``max_inflight_per_client`` QoS 1 messages await their PUBACK (each
PUBACK future is tracked with a done-callback, no task per message). Otherwise it waits, in order, in a queue
bounded by ``max_queued_per_client`` messages and ``max_queued_bytes_per_client`` bytes, sent as PUBACKs come
back and the socket drains. Past the bound a QoS 0 message is dropped (counted) and a QoS 1 message disconnects
the client as a slow consumer. Routing only ever appends to outboxes: no subscriber waits for another.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.broker.handler import GuardedHandler
    from simulator.broker.logfilter import LogThrottle
    from simulator.broker.settings import BrokerSettings
    from simulator.broker.stats import Counters

OVERHEAD = 8  # bytes counted per queued message on top of its topic and payload
WRITE_HIGH_WATER = 256 * 1024  # bytes in the socket's write buffer beyond which messages wait in the queue

Message = tuple[str, bytes | bytearray, int, bool]  # topic, payload, QoS, retain


def message_size(topic: str, data: bytes | bytearray) -> int:
    return len(topic) + len(data) + OVERHEAD


class Outbox:
    """The messages on their way to one connection."""

    def __init__(self, client_id: str, handler: GuardedHandler, stream: asyncio.StreamWriter,
                 settings: BrokerSettings, counters: Counters, throttle: LogThrottle,
                 on_overflow: Callable[[], None]) -> None:
        self.client_id = client_id
        self._handler, self._stream = handler, stream
        self._window = settings.max_inflight_per_client
        self._max_count = settings.max_queued_per_client
        self._max_bytes = settings.max_queued_bytes_per_client
        self._counters, self._throttle = counters, throttle
        self._on_overflow = on_overflow
        self.queue: deque[Message] = deque()
        self.queued_bytes = 0
        self.inflight: dict[int, Message] = {}  # packet id -> QoS 1 message awaiting its PUBACK, in send order
        self._drainer: asyncio.Task | None = None
        self.closed = False

    def offer(self, topic: str, data: bytes | bytearray, qos: int, retain: bool = False) -> None:
        """Send now if the socket and the window allow, else queue; past the bounds drop (QoS 0) or disconnect
        (QoS 1)."""
        if self.closed:
            return
        if not self.queue and self._may_send(qos):
            self._counters.delivered += 1
            self._send((topic, data, qos, retain))
            return
        size = message_size(topic, data)
        if len(self.queue) < self._max_count and self.queued_bytes + size <= self._max_bytes:
            self._counters.delivered += 1
            self.queue.append((topic, data, qos, retain))
            self.queued_bytes += size
            return
        if qos == 0:
            self._counters.qos0_dropped += 1
            self._throttle.warning("qos0-drop", "client %s cannot keep up: QoS 0 messages dropped (%s ...)",
                                   self.client_id, topic)
            return
        self._counters.slow_consumer_disconnects += 1
        self._counters.queued_dropped += 1
        self._throttle.warning("slow-consumer", "client %s disconnected: its queue is full (%d messages, %d bytes "
                               "waiting)", self.client_id, len(self.queue), self.queued_bytes)
        self._on_overflow()
        self.close()

    def _congested(self) -> bool:
        return self._stream.transport.get_write_buffer_size() > WRITE_HIGH_WATER

    def _may_send(self, qos: int) -> bool:
        return (qos == 0 or len(self.inflight) < self._window) and not self._congested()

    def _send(self, message: Message) -> None:
        topic, data, qos, retain = message
        try:
            ack = self._handler.send_publish(topic, data, qos, retain)
        except (ConnectionError, RuntimeError):
            self.queue.appendleft(message)  # kept: a persistent session gets it on its next connection
            self.queued_bytes += message_size(topic, data)
            self.closed = True
            return
        if ack is not None:
            packet_id, waiter = ack
            self.inflight[packet_id] = message
            waiter.add_done_callback(partial(self._acknowledged, packet_id))
        if self._congested():
            self._wait_for_drain()

    def _acknowledged(self, packet_id: int, waiter: asyncio.Future) -> None:
        if waiter.cancelled() or self.closed:
            return
        self.inflight.pop(packet_id, None)
        self._handler.settled(packet_id)
        self._pump()

    def _pump(self) -> None:
        """Send from the queue while the socket and the window allow."""
        queue = self.queue
        while queue and not self.closed and self._may_send(queue[0][2]):
            message = queue.popleft()
            self.queued_bytes -= message_size(message[0], message[1])
            self._send(message)
        if queue and not self.closed and self._congested():
            self._wait_for_drain()

    def _wait_for_drain(self) -> None:
        if self._drainer is None:
            self._drainer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        try:
            await self._stream.drain()
        except (ConnectionError, RuntimeError):
            self.closed = True
            return
        finally:
            self._drainer = None
        self._pump()

    def close(self) -> list[Message]:
        """Stop sending; what was not acknowledged or not sent yet is returned, in order (a persistent session
        keeps its QoS 1 messages for its next connection)."""
        self.closed = True
        if self._drainer is not None:
            self._drainer.cancel()
        left = list(self.inflight.values()) + list(self.queue)
        for packet_id in list(self.inflight):
            with suppress(Exception):
                self._handler.settled(packet_id)
        self.inflight.clear()
        self.queue.clear()
        self.queued_bytes = 0
        return left
