"""amqtt's Broker with bounded delivery: ``RoutingBroker``, the base of hardened.HardenedBroker.

Stock amqtt 0.12.1 queues every message for a broadcast loop that starts a task per subscriber per message and
keeps them all until the oldest is done, so one subscriber that does not read holds everything for everyone; it
delivers at the subscription's QoS whatever the publish QoS, once per matching subscription; it keeps messages for
a persistent session that is away without bound; and when a session reconnects it sends it the retained messages
of every client's subscriptions. Here a message is routed at once into each subscriber's delivery.Outbox (once
per subscriber, at min(publish QoS, granted QoS), QoS 2 granted as QoS 1 as on AWS IoT Core); a persistent
session that is away keeps at most ``max_queued_per_client`` messages / ``max_queued_bytes_per_client`` bytes;
retained messages go only to the subscriptions they match, and at most ``max_retained`` topics are kept.
"""

from __future__ import annotations

from typing import Any

from amqtt.broker import Broker, RetainedApplicationMessage
from amqtt.session import Session

from simulator.broker.delivery import Outbox, message_size
from simulator.broker.links import LinkTable
from simulator.broker.logfilter import LogThrottle
from simulator.broker.settings import BrokerSettings
from simulator.broker.stats import Counters

QUEUED_BYTES = "deeplens_sim.queued_bytes"  # Session.attributes key: bytes kept for a persistent session
MAX_QOS = 1
MAX_CACHED_TOPICS = 10000


class RoutingBroker(Broker):
    def __init__(self, config: dict[str, Any], settings: BrokerSettings, throttle: LogThrottle) -> None:
        super().__init__(config)
        self.settings, self.throttle = settings, throttle
        self.counters = Counters()
        self.links = LinkTable(self.counters, throttle)
        self._routes: dict[str, list[tuple[Session, int]]] = {}  # topic -> its subscribers: cleared on any change

    async def _broadcast_message(self, session: Session | None, topic: str | None, data: bytes | bytearray | None,
                                 force_qos: int | None = None) -> None:
        """Wills and internal broadcasts: routed at once (amqtt queued them for its broadcast loop)."""
        if topic and data is not None:
            self._route(topic, data, None if force_qos is None else min(force_qos, MAX_QOS))

    async def retain_message(self, source_session: Session | None, topic_name: str | None,
                             data: bytes | bytearray | None, qos: int | None = None) -> None:
        if data and topic_name not in self._retained_messages \
                and len(self._retained_messages) >= self.settings.max_retained:
            self.counters.queued_dropped += 1
            self.throttle.warning("retained", "retained message on %s not kept: %d retained topics (max_retained)",
                                  topic_name, len(self._retained_messages))
            return
        await super().retain_message(source_session, topic_name, data, qos)

    # -- routing ------------------------------------------------------------------------------------------------
    def _route(self, topic: str, data: bytes | bytearray, qos: int | None) -> None:
        """Append the message to each subscriber's outbox (or a persistent session's queue), never waiting."""
        targets = self._routes.get(topic)
        if targets is None:
            targets = self._targets(topic)
        live = self.links.live
        for session, granted in targets:
            q = granted if qos is None else min(qos, granted)
            link = live.get(session.client_id or "")
            outbox = link.outbox if link is not None and link.session is session else None
            if outbox is not None and not outbox.closed:
                outbox.offer(topic, data, q)
            elif q and not session.clean_session:  # away, or its CONNACK is on the way: sent once it has gone
                self._keep_for_later(session, topic, data, q)

    def _targets(self, topic: str) -> list[tuple[Session, int]]:
        best: dict[int, tuple[Session, int]] = {}
        for topic_filter, subs in self._subscriptions.items():
            if self._matches(topic, topic_filter):
                for session, granted in subs:
                    if best.get(id(session), (None, -1))[1] < granted:
                        best[id(session)] = (session, granted)
        targets = list(best.values())
        if len(self._routes) > MAX_CACHED_TOPICS:
            self._routes.clear()
        self._routes[topic] = targets
        return targets

    async def add_subscription(self, subscription: tuple[str, int], session: Session) -> int:
        topic_filter, qos = subscription
        self._routes.clear()
        return await super().add_subscription((topic_filter, min(qos, MAX_QOS)), session)

    def _del_subscription(self, a_filter: str, session: Session) -> int:
        self._routes.clear()
        return super()._del_subscription(a_filter, session)

    async def _del_all_subscriptions(self, session: Session) -> None:
        self._routes.clear()
        await super()._del_all_subscriptions(session)

    def _keep_for_later(self, session: Session, topic: str, data: bytes | bytearray, qos: int) -> None:
        """Keep a QoS 1 message for a persistent session that is away, within the per-client bounds."""
        size = message_size(topic, data)
        kept = session.attributes.get(QUEUED_BYTES, 0)
        if session.retained_messages.qsize() >= self.settings.max_queued_per_client \
                or kept + size > self.settings.max_queued_bytes_per_client:
            self.counters.queued_dropped += 1
            self.throttle.warning("away-full", "persistent session %s is away and its queue is full: messages "
                                  "dropped (%s ...)", session.client_id, topic)
            return
        session.attributes[QUEUED_BYTES] = kept + size
        session.retained_messages.put_nowait(RetainedApplicationMessage(None, topic, data, qos))

    async def _publish_session_retained_messages(self, session: Session) -> None:
        """The client is connected (CONNACK sent): give it its outbox, then what was kept while it was away."""
        link = self.links.live.get(session.client_id or "")
        if link is None or link.session is not session or link.handler is None:
            return
        link.outbox = Outbox(session.client_id or "", link.handler, link.stream, self.settings, self.counters,
                             self.throttle, link.reader.close)
        session.attributes[QUEUED_BYTES] = 0
        while not session.retained_messages.empty():
            kept = session.retained_messages.get_nowait()
            link.outbox.offer(kept.topic, kept.data, kept.qos or 0)

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int],
                                                          session: Session) -> None:
        topic_filter = subscription[0]
        granted = next((q for s, q in self._subscriptions.get(topic_filter, []) if s is session), None)
        link = self.links.live.get(session.client_id or "")
        if granted is None or link is None or link.outbox is None:
            return  # amqtt also calls this for other clients' filters when a session reconnects
        for topic, retained in list(self._retained_messages.items()):
            if self._matches(topic, topic_filter):
                link.outbox.offer(topic, retained.data, min(granted, retained.qos or 0), retain=True)
