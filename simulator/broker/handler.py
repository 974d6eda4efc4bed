"""amqtt's broker-side protocol handler for one connection, with these changes: ``GuardedHandler``.

- A client's QoS 0 and QoS 1 PUBLISH goes to the broker at once (``on_message``: checked, routed, acknowledged),
  not through amqtt's per-session queue and message loop (a queue put, a task and an ``asyncio.wait`` per
  message); QoS 2 still completes its handshake first. Packets are written with one ``write`` (no lock, drain,
  timer or plugin event per packet: the broker has no plugins, its keep-alive is streams.GuardedReader's, and
  the reader stops reading a client that does not read what it is sent).
- ``send_publish`` writes a PUBLISH at once and, for QoS 1, registers the future that the client's PUBACK
  completes *before* the packet is written. amqtt's ``mqtt_publish`` registers it after writing and draining, so a
  PUBACK that arrives while the socket drains is dropped ("Received PUBACK for unknown pending message") and the
  send waits 5 s for nothing; it also needs a task per message. delivery.Outbox uses this instead.
- A QoS 2 PUBLISH from a client runs its PUBREC/PUBREL exchange in a task of its own (amqtt keeps it in the
  reader's task queue, where one PUBREL that never comes pins every later packet's task), and at most
  ``max_pending_qos2`` of them may wait for their PUBREL: past that the connection is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from amqtt.errors import ProtocolHandlerError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.puback import PubackPacket
from amqtt.mqtt.publish import PublishPacket
from amqtt.session import ApplicationMessage, IncomingApplicationMessage, Session


class GuardedHandler(BrokerProtocolHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_pending_qos2 = 100
        self.refuse: Callable[[str, str], None] = lambda kind, why: None  # set by the broker
        self.on_message: Callable[[Session, ApplicationMessage], bool] = lambda session, message: True
        self._qos2_flows: set[asyncio.Future] = set()

    def send_publish(self, topic: str, data: bytes | bytearray, qos: int,
                     retain: bool) -> tuple[int, asyncio.Future] | None:
        """Write a PUBLISH now; for QoS 1, (packet id, the future its PUBACK completes). ConnectionError if the
        connection is gone."""
        writer, session = self.writer, self.session
        if writer is None or session is None or getattr(writer, "closing", True):
            raise ConnectionError("the connection is closed")
        ack: tuple[int, asyncio.Future] | None = None
        packet_id = None
        if qos:
            packet_id = session.next_packet_id
            while packet_id in self._puback_waiters:
                packet_id = session.next_packet_id
            waiter = self._loop.create_future()
            self._puback_waiters[packet_id] = waiter
            ack = packet_id, waiter
        writer.write(PublishPacket.build(topic, bytes(data), packet_id, False, qos, retain).to_bytes())
        return ack

    def settled(self, packet_id: int) -> None:
        """Forget the PUBACK future of ``packet_id`` (acknowledged, or given up)."""
        waiter = self._puback_waiters.pop(packet_id, None)
        if waiter is not None and not waiter.done():
            waiter.cancel()

    async def handle_publish(self, publish_packet: PublishPacket) -> None:
        qos, session = publish_packet.qos, self.session
        if qos == 2:
            if len(self._qos2_flows) >= self.max_pending_qos2:
                self.refuse("protocol_errors", f"more than {self.max_pending_qos2} QoS 2 messages awaiting PUBREL")
                return
            flow = asyncio.ensure_future(super().handle_publish(publish_packet))
            self._qos2_flows.add(flow)
            flow.add_done_callback(self._qos2_done)
            return
        topic, data = publish_packet.topic_name, publish_packet.data
        if session is None or topic is None or data is None or (qos == 0 and publish_packet.dup_flag):
            return  # as amqtt: [MQTT-3.3.1-2] a QoS 0 message with DUP set is ignored
        packet_id = publish_packet.variable_header.packet_id if publish_packet.variable_header else None
        message = IncomingApplicationMessage(packet_id, topic, qos, data, publish_packet.retain_flag)
        message.publish_packet = publish_packet
        if self.on_message(session, message) and qos == 1 and packet_id is not None:
            await self._send_packet(PubackPacket.build(packet_id))

    async def _send_packet(self, packet: Any) -> None:
        writer = self.writer
        if writer is None or getattr(writer, "closing", False):
            return
        try:
            writer.write(packet.to_bytes())
        except (ConnectionResetError, BrokenPipeError):
            await self.handle_connection_closed()
        except asyncio.CancelledError as exc:
            raise ProtocolHandlerError("Packet handling was cancelled") from exc

    def _qos2_done(self, flow: asyncio.Future) -> None:
        self._qos2_flows.discard(flow)
        if not flow.cancelled():
            flow.exception()  # retrieved: a broken flow ends with its connection

    async def stop(self) -> None:
        for flow in list(self._qos2_flows):
            flow.cancel()
        await super().stop()
