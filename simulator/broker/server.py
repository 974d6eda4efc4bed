"""The embedded broker's core, on its event loop: connections, sessions, routing, retained messages, wills,
authentication, the access rules and every limit of settings.py (with its counter and a rate-limited log line)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
import time
from typing import Any

from simulator.broker import codec
from simulator.broker.acl import CONNACK_NOT_AUTHORIZED, Policy, Principal
from simulator.broker.connection import Connection
from simulator.broker.logfilter import LogThrottle
from simulator.broker.session import OutMessage, Session
from simulator.broker.settings import BrokerSettings
from simulator.broker.stats import BrokerStats, Counters
from simulator.broker.subscriptions import SubscriptionIndex, matches, valid_filter, valid_topic_name

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 0.5


class BrokerCore:
    def __init__(self, settings: BrokerSettings, policy: Policy) -> None:
        self.settings, self.policy = settings, policy
        self.counters = Counters()
        self.throttle = LogThrottle(log, settings.log_interval)
        self.connections: set[Connection] = set()
        self.clients = 0
        self.sessions: dict[str, Session] = {}
        self.index = SubscriptionIndex()
        self.retained: dict[str, tuple[OutMessage, int]] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._sweeper: asyncio.Task | None = None

    # -- lifecycle (on the loop) ----------------------------------------------------------------------------
    async def serve(self, sock: Any, tls: ssl.SSLContext | None = None) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Connection(self, tls is not None), sock=sock, ssl=tls,
                                          ssl_handshake_timeout=self.settings.connect_timeout if tls else None)
        self._servers.append(server)
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever())

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            conn.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def stats(self) -> BrokerStats:
        return self.counters.snapshot("builtin", len(self.connections), self.clients)

    # -- connections ----------------------------------------------------------------------------------------
    def opened(self, conn: Connection) -> None:
        if len(self.connections) >= self.settings.max_connections:
            self.counters.refused_full += 1
            self.throttle.warning("full", "MQTT connection from %s closed: %d connections already open "
                                  "(max_connections)", conn.peer, len(self.connections))
            conn.abort()
            return
        self.connections.add(conn)

    def closed(self, conn: Connection) -> None:
        self.connections.discard(conn)
        session = conn.session
        if not conn.connected or session is None:
            return
        self.clients -= 1
        conn.connected = False
        if not conn.clean_disconnect:
            self._send_will(conn)
        session.detach()
        if session.clean:
            self._drop_session(session)

    def _send_will(self, conn: Connection) -> None:
        will, conn.will = conn.will, None
        if will is not None:
            topic, payload, qos, retain = will
            self.route(topic, payload, qos, retain)

    def _drop_session(self, session: Session) -> None:
        self.index.remove_all(session, list(session.subscriptions))
        session.subscriptions.clear()
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                self.sweep(time.monotonic())
                self.throttle.flush()
            except Exception:  # noqa: BLE001 - the sweeper must survive anything
                log.exception("broker sweep failed")

    def sweep(self, now: float) -> None:
        """Close sockets that did not CONNECT in time and clients silent past 1.5 x keep-alive; forget expired
        persistent sessions."""
        timeout = self.settings.connect_timeout
        for conn in list(self.connections):
            if not conn.connected and now - conn.opened > timeout:
                self.counters.timeouts += 1
                self.throttle.warning("connect-timeout", "MQTT connection from %s closed: no CONNECT within %g s",
                                      conn.peer, timeout)
                conn.abort()
            elif conn.connected and conn.keepalive and now - conn.last_rx > 1.5 * conn.keepalive:
                self.counters.timeouts += 1
                self.throttle.warning("keepalive", "client %s disconnected: silent for 1.5 x its keep-alive "
                                      "(%g s)", conn.client_id, conn.keepalive)
                conn.abort()
        expiry = self.settings.session_expiry
        for session in [s for s in self.sessions.values() if s.conn is None and now - s.disconnected_at > expiry]:
            self._drop_session(session)

    # -- faults ---------------------------------------------------------------------------------------------
    def refuse_oversize(self, conn: Connection, size: int) -> None:
        self.counters.oversize += 1
        self.throttle.warning("oversize", "client %s disconnected: a packet of %d bytes (max_packet_bytes %d)",
                              conn.client_id or conn.peer, size, self.settings.max_packet_bytes)
        conn.abort()

    def protocol_error(self, conn: Connection, what: str) -> None:
        self.counters.protocol_errors += 1
        self.throttle.warning("protocol", "client %s disconnected: %s", conn.client_id or conn.peer, what)
        conn.abort()

    # -- packets --------------------------------------------------------------------------------------------
    def packet(self, conn: Connection, first: int, body: bytes) -> None:
        kind, flags = first >> 4, first & 0x0F
        session = conn.session
        if not conn.connected or session is None:
            if kind != codec.CONNECT or conn.client_id:
                self.protocol_error(conn, "the first packet was not a CONNECT")
            else:
                self._connect(conn, body)
            return
        if kind == codec.PUBLISH:
            self._publish(conn, session, flags, body)
        elif kind == codec.PUBACK:
            session.acknowledged(codec.decode_packet_id(body))
        elif kind == codec.PINGREQ:
            conn.write(codec.PINGRESP_PACKET)
        elif kind == codec.SUBSCRIBE and flags == 2:
            self._subscribe(conn, session, body)
        elif kind == codec.UNSUBSCRIBE and flags == 2:
            pid, filters = codec.decode_unsubscribe(body)
            for f in filters:
                if session.subscriptions.pop(f, None) is not None:
                    self.index.remove(f, session)
            conn.write(codec.ack(codec.UNSUBACK, pid))
        elif kind == codec.PUBREL and flags == 2:
            pid = codec.decode_packet_id(body)
            session.awaiting_rel.discard(pid)
            conn.write(codec.ack(codec.PUBCOMP, pid))
        elif kind in (codec.PUBREC, codec.PUBCOMP):
            codec.decode_packet_id(body)  # the broker sends QoS 1 at most: nothing to complete
        elif kind == codec.DISCONNECT:
            conn.clean_disconnect = True
            conn.will = None
            conn.close()
        else:
            self.protocol_error(conn, f"unexpected packet type {kind} (flags {flags:#x})")

    def _connect(self, conn: Connection, body: bytes) -> None:
        c = codec.decode_connect(body)
        conn.client_id = c.client_id or f"auto-{secrets.token_hex(8)}"
        if (c.protocol, c.level) not in codec.PROTOCOLS:
            self._refuse_connect(conn, codec.CONNACK_BAD_PROTOCOL)
            return
        if not c.client_id and not c.clean:
            self._refuse_connect(conn, codec.CONNACK_BAD_CLIENT_ID)
            return
        if c.will is not None and not valid_topic_name(c.will[0]):
            self.protocol_error(conn, "a will topic with wildcards")
            return
        if self.policy.needs_hashing(c.username):
            conn.hold()  # packets after CONNECT wait for the password check, done off the loop
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(None, self.policy.authenticate, c.username, c.password)
            future.add_done_callback(lambda f: self._connect_checked(conn, c, self._checked(f)))
        else:
            self._connect_checked(conn, c, self.policy.authenticate(c.username, c.password))

    @staticmethod
    def _checked(future: asyncio.Future) -> Principal | int:
        try:
            return future.result()
        except Exception:  # noqa: BLE001 - an unreadable hash refuses the client, never the broker
            log.exception("password check failed")
            return CONNACK_NOT_AUTHORIZED

    def _refuse_connect(self, conn: Connection, code: int) -> None:
        conn.write(codec.connack(False, code))
        conn.close()

    def _connect_checked(self, conn: Connection, c: codec.Connect, who: Principal | int) -> None:
        if conn.closing:
            return
        if isinstance(who, int):
            self.counters.refused_auth += 1
            why = "credentials required" if who == CONNACK_NOT_AUTHORIZED else "wrong credentials"
            self.throttle.warning("auth", "MQTT connection from %s (client %s, user %s) refused: %s", conn.peer,
                                  conn.client_id, c.username, why)
            self._refuse_connect(conn, who)
            return
        if c.will is not None and not self.policy.may_publish(who, c.will[0]):
            self.counters.refused_acl += 1
            self.throttle.warning("acl-will", "client %s refused: it may not publish its will to %s",
                                  conn.client_id, c.will[0])
            self._refuse_connect(conn, CONNACK_NOT_AUTHORIZED)
            return
        session = self._take_session(conn.client_id, c.clean, who)
        present = session is not None
        if session is None:
            session = Session(self, conn.client_id, c.clean, who)
            self.sessions[conn.client_id] = session
        conn.keepalive = float(c.keepalive)
        conn.will = (c.will[0], c.will[1], min(c.will[2], 1), c.will[3]) if c.will is not None else None
        conn.connected = True
        self.clients += 1
        self.counters.accepted += 1
        conn.write(codec.connack(present, 0))
        session.attach(conn)
        if conn.held:
            conn.release()

    def _take_session(self, client_id: str, clean: bool, who: Principal) -> Session | None:
        """End a connection with the same client id (its will is sent); the old session if it is resumed."""
        old = self.sessions.get(client_id)
        if old is None:
            return None
        old_conn = old.conn
        if old_conn is not None:
            self.counters.takeovers += 1
            self.throttle.info("takeover", "client %s connected again: its older connection (%s) is closed",
                               client_id, old_conn.peer)
            self._send_will(old_conn)
            old_conn.connected = False
            self.clients -= 1
            old.detach()
            old_conn.abort()
        if clean or old.clean:
            self._drop_session(old)
            return None
        old.principal = who
        for f in [f for f in old.subscriptions if not self.policy.may_subscribe(who, f)]:
            del old.subscriptions[f]
            self.index.remove(f, old)
        return old

    def _publish(self, conn: Connection, session: Session, flags: int, body: bytes) -> None:
        topic, qos, retain, pid, payload = codec.decode_publish(flags, body)
        if not valid_topic_name(topic):
            self.protocol_error(conn, f"PUBLISH to an invalid topic name {topic!r}")
            return
        if len(payload) > self.settings.max_packet_bytes:
            self.refuse_oversize(conn, len(payload))
            return
        if not self.policy.may_publish(session.principal, topic):
            self.counters.refused_acl += 1
            self.throttle.warning("acl-publish", "client %s (%s) disconnected: it may not publish to %s",
                                  session.client_id, session.principal.name or session.principal.kind, topic)
            conn.abort()
            return
        self.counters.received += 1
        if qos == 1:
            conn.write(codec.ack(codec.PUBACK, pid))
        elif qos == 2:
            conn.write(codec.ack(codec.PUBREC, pid))
            if pid in session.awaiting_rel:
                return  # a resent QoS 2 message: delivered once already
            if len(session.awaiting_rel) >= self.settings.max_inflight_per_client:
                self.protocol_error(conn, "too many QoS 2 messages awaiting PUBREL")
                return
            session.awaiting_rel.add(pid)
        self.route(topic, payload, qos, retain)

    def route(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        """Deliver a message to every matching subscription (at most QoS 1), and keep it if retained."""
        qos = min(qos, 1)
        if retain:
            self._retain(topic, payload, qos)
        msg = OutMessage(topic, payload)
        for session, sub_qos in self.index.match(topic):
            session.deliver(msg, sub_qos if sub_qos < qos else qos)  # type: ignore[attr-defined]

    def _retain(self, topic: str, payload: bytes, qos: int) -> None:
        if not payload:
            self.retained.pop(topic, None)
        elif topic in self.retained or len(self.retained) < self.settings.max_retained:
            self.retained[topic] = (OutMessage(topic, payload, retain=True), qos)
        else:
            self.counters.queued_dropped += 1
            self.throttle.warning("retained", "retained message on %s not kept: %d retained topics (max_retained)",
                                  topic, len(self.retained))

    def _subscribe(self, conn: Connection, session: Session, body: bytes) -> None:
        pid, requested = codec.decode_subscribe(body)
        codes: list[int] = []
        granted: list[tuple[str, int]] = []
        for topic_filter, qos in requested:
            if not valid_filter(topic_filter):
                codes.append(0x80)
            elif not self.policy.may_subscribe(session.principal, topic_filter):
                self.counters.refused_acl += 1
                self.throttle.warning("acl-subscribe", "client %s (%s) may not subscribe to %s", session.client_id,
                                      session.principal.name or session.principal.kind, topic_filter)
                codes.append(0x80)
            else:
                qos = min(qos, 1)
                session.subscriptions[topic_filter] = qos
                self.index.add(topic_filter, session, qos)
                codes.append(qos)
                granted.append((topic_filter, qos))
        conn.write(codec.suback(pid, codes))
        for topic_filter, qos in granted:
            for topic, (msg, retained_qos) in list(self.retained.items()):
                if matches(topic_filter, topic):
                    session.deliver(msg, min(qos, retained_qos))
