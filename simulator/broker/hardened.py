"""amqtt's broker with the limits of settings.py and the roles of acl.py: ``HardenedBroker``.

What stock amqtt 0.12.1 does with a connection, and what this subclass does instead (its delivery is
routing.RoutingBroker's; each amqtt method overridden or relied on is listed in amqtt_review.py, which a test
checks against the installed amqtt):

- Sockets: amqtt makes connections beyond a listener's ``max_connections`` wait, open, on a semaphore; here they
  are closed as soon as they are accepted. Every socket is read through streams.GuardedReader (packet-size limit
  on the fixed header, CONNECT timeout, 1.5 x keep-alive, no unbounded buffering of a fast publisher) and served
  by handler.GuardedHandler.
- CONNECT: credentials and the will are checked before any session is touched (amqtt let a refused client take
  over a connected client's id); refusals get CONNACK 4 (wrong credentials) or 5 (none, or a will it may not
  publish). A client id already connected closes the older connection, whose will is sent (MQTT 3.1.1 §3.1.4;
  amqtt left it connected but deaf when the new one asked for a clean session).
- PUBLISH: a publish the client may not make (acl.py; ``$`` topics other than ``$aws/...``) is dropped, counted
  and its connection closed, as AWS IoT Core does; amqtt ended the client's message loop but left its socket open.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from functools import partial
from typing import Any

from amqtt.contexts import Action
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import ApplicationMessage, Session

from simulator.broker.acl import CONNACK_NOT_AUTHORIZED, Policy, Principal
from simulator.broker.delivery import WRITE_HIGH_WATER
from simulator.broker.handler import GuardedHandler
from simulator.broker.links import Link
from simulator.broker.logfilter import LogThrottle
from simulator.broker.routing import MAX_QOS, RoutingBroker
from simulator.broker.settings import BrokerSettings
from simulator.broker.stats import BrokerStats
from simulator.broker.streams import CLOSE_WAIT, GuardedReader, GuardedWriter

PRINCIPAL = "deeplens_sim.principal"  # Session.attributes key: who the client is (acl.Principal)
HOUSEKEEPING = 1.0


class HardenedBroker(RoutingBroker):
    def __init__(self, config: dict[str, Any], settings: BrokerSettings, policy: Policy,
                 sockets: dict[str, socket.socket], throttle: LogThrottle) -> None:
        super().__init__(config, settings, throttle)
        self.policy = policy
        self._listen_sockets = sockets
        self._housekeeping: asyncio.Task | None = None
        self._background: set[asyncio.Future] = set()

    # -- lifecycle ----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await super().start()
        self._housekeeping = asyncio.create_task(self._keep_house())

    async def shutdown(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        self.links.close_all()  # nobody waits on a client that does not read
        await super().shutdown()

    async def _keep_house(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING)
            self.throttle.flush()

    def stats(self) -> BrokerStats:
        return self.counters.snapshot("amqtt", self.links.open, self.links.clients)

    async def _create_server_instance(self, listener_name: str, listener_type: Any, address: str | None, port: int,
                                      ssl_context: ssl.SSLContext | None) -> asyncio.Server:
        """Serve on the socket bound beforehand (a taken port is reported before the broker starts)."""
        return await asyncio.start_server(partial(self.stream_connected, listener_name=listener_name),
                                          sock=self._listen_sockets[listener_name], ssl=ssl_context,
                                          ssl_handshake_timeout=self.settings.connect_timeout if ssl_context else None)

    # -- connections --------------------------------------------------------------------------------------------
    async def stream_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                               listener_name: str) -> None:
        link = Link(writer)
        if self.links.open >= self.settings.max_connections:
            self.counters.refused_full += 1
            self.throttle.warning("full", "MQTT connection from %s closed: %d connections already open "
                                  "(max_connections)", link.name, self.links.open)
            writer.transport.abort()
            return
        s = self.settings
        writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        link.reader = GuardedReader(reader, writer, header_limit=s.header_limit, max_payload=s.max_packet_bytes,
                                    connect_timeout=s.connect_timeout, refuse=partial(self.links.refused, link))
        link.writer = GuardedWriter(writer)
        self.links.add(link)
        await self._client_connected(listener_name, link.reader, link.writer)

    async def _client_connected(self, listener_name: str, reader: Any, writer: Any) -> None:
        link = self.links.by_reader(reader)
        try:
            handler, session = await self._initialize_client_session(reader, writer, *link.peer)
            await self._handle_client_session(reader, writer, session, handler, self._servers[listener_name],
                                              listener_name)
        except (AMQTTError, MQTTError, NoDataError, ConnectionError) as exc:
            self.logger.debug("MQTT connection %s ended: %r", link.name, exc)
        finally:
            self._closed(link)

    def _closed(self, link: Link) -> None:
        link.reader.close()
        left = link.outbox.close() if link.outbox is not None else []
        if link.session is not None and not link.session.clean_session:
            for topic, data, qos, _ in left:
                if qos:
                    self._keep_for_later(link.session, topic, data, qos)
        self.links.closed(link)

    async def _initialize_client_session(self, reader: Any, writer: Any, remote_address: str,
                                         remote_port: int) -> tuple[BrokerProtocolHandler, Session]:
        """Read the CONNECT, check who it is, end an older connection with its client id, find its session."""
        link = self.links.by_reader(reader)
        try:
            handler, session = await GuardedHandler.init_from_connect(reader, writer, self.plugins_manager)
        except MQTTError as exc:  # amqtt has answered with the CONNACK refusal MQTT asks for
            if not reader.closed:
                link.reader.close("protocol_errors", f"an unacceptable CONNECT ({exc})")
            raise
        assert isinstance(handler, GuardedHandler)
        handler.max_pending_qos2 = self.settings.max_inflight_per_client
        handler.refuse = link.reader.close
        handler.on_message = self._accept_publish
        who = await self._check_connect(link, session)
        client_id = session.client_id
        await self._take_over(client_id)
        if session.clean_session:
            await self._delete_session(client_id)
            session.parent = 0
        elif client_id in self._sessions:
            existing, _ = self._sessions[client_id]
            for name in ("will_flag", "will_message", "will_topic", "will_qos", "will_retain", "keep_alive",
                         "username", "password"):
                setattr(existing, name, getattr(session, name))
            session = existing
            session.parent = 1
            self._forget_forbidden_subscriptions(session, who)
        else:
            session.parent = 0
        session.attributes[PRINCIPAL] = who
        link.connected(client_id, session, handler)
        self.links.live[client_id] = link
        reader.incoming = session.delivered_message_queue
        reader.connected(float(session.keep_alive))
        session.keep_alive = 0  # the reader enforces it: amqtt's own keep-alive timers do nothing in a broker
        self.counters.accepted += 1
        return handler, session

    async def _check_connect(self, link: Link, session: Session) -> Principal:
        """The client's principal; a refused client is answered (CONNACK 4 or 5), closed and MQTTError raised."""
        password = session.password.encode() if session.password is not None else None
        try:
            if self.policy.needs_hashing(session.username):  # a PBKDF2 round: off the event loop
                who = await asyncio.get_running_loop().run_in_executor(None, self.policy.authenticate,
                                                                       session.username, password)
            else:
                who = self.policy.authenticate(session.username, password)
        except Exception:  # noqa: BLE001 - an unreadable hash refuses the client, never the broker
            self.logger.exception("password check failed")
            who = CONNACK_NOT_AUTHORIZED
        if isinstance(who, int):
            self.counters.refused_auth += 1
            why = "credentials required" if who == CONNACK_NOT_AUTHORIZED else "wrong credentials"
            self.throttle.warning("auth", "MQTT connection from %s (client %s, user %s) refused: %s", link.name,
                                  session.client_id, session.username, why)
            await self._refuse_connect(link, who)
        elif session.will_flag and session.will_topic and not self.policy.may_publish(who, session.will_topic):
            self.counters.refused_acl += 1
            self.throttle.warning("acl-will", "client %s refused: it may not publish its will to %s",
                                  session.client_id, session.will_topic)
            await self._refuse_connect(link, CONNACK_NOT_AUTHORIZED)
        assert isinstance(who, Principal)
        return who

    @staticmethod
    async def _refuse_connect(link: Link, code: int) -> None:
        link.writer.write(bytes((0x20, 2, 0, code)))
        await link.writer.close()
        raise MQTTError(f"CONNECT refused with code {code}")

    async def _take_over(self, client_id: str) -> None:
        """Close the connection that uses ``client_id`` now, and wait until amqtt has ended it (will sent)."""
        while (old := self.links.live.get(client_id)) is not None:
            self.counters.takeovers += 1
            self.throttle.info("takeover", "client %s connected again: its older connection (%s) is closed",
                               client_id, old.name)
            old.reader.close()
            try:
                await asyncio.wait_for(old.finished.wait(), 2 * CLOSE_WAIT)
            except asyncio.TimeoutError:
                self.links.live.pop(client_id, None)

    def _forget_forbidden_subscriptions(self, session: Session, who: Principal) -> None:
        for topic_filter, subs in list(self._subscriptions.items()):
            if not self.policy.may_subscribe(who, topic_filter) and any(s is session for s, _ in subs):
                self._del_subscription(topic_filter, session)

    async def _authenticate(self, session: Session, _: Any) -> bool:
        return PRINCIPAL in session.attributes  # checked in _initialize_client_session, before the takeover

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        who = session.attributes.get(PRINCIPAL)
        if not isinstance(who, Principal):
            return False
        if action == Action.PUBLISH:
            return self.policy.may_publish(who, topic)
        allowed = self.policy.may_subscribe(who, topic)
        if not allowed and action == Action.SUBSCRIBE:
            self.counters.refused_acl += 1
            self.throttle.warning("acl-subscribe", "client %s (%s) may not subscribe to %s", session.client_id,
                                  who.name or who.kind, topic)
        return allowed

    # -- what clients publish -----------------------------------------------------------------------------------
    async def _handle_message_delivery(self, client_session: Session, handler: BrokerProtocolHandler,
                                       wait_deliver: asyncio.Future) -> bool:
        """A QoS 2 message whose handshake is complete (QoS 0 and 1 come straight from GuardedHandler)."""
        message = wait_deliver.result()
        if message is not None:
            self._accept_publish(client_session, message)
        return True  # never ends amqtt's loop early: a refused client's socket is closed, which ends it

    def _accept_publish(self, session: Session, message: ApplicationMessage) -> bool:
        """Check a client's PUBLISH, route it and keep it if retained; False if refused (its socket closed)."""
        link = self.links.live.get(session.client_id or "")
        if link is None or link.session is not session or link.reader.refused:
            return False  # sent after a violation: not routed
        topic = message.topic
        if not topic or "#" in topic or "+" in topic:
            link.reader.close("protocol_errors", f"a PUBLISH to an invalid topic name {topic!r}")
            return False
        who = session.attributes[PRINCIPAL]
        if not self.policy.may_publish(who, topic):
            link.reader.close("refused_acl", f"{who.name or who.kind} may not publish to {topic}")
            return False
        self.counters.received += 1
        qos = min(message.qos or 0, MAX_QOS)
        self._route(topic, message.data, qos)
        if message.publish_packet is not None and message.publish_packet.retain_flag:
            task = asyncio.ensure_future(self.retain_message(session, topic, message.data, qos))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return True
