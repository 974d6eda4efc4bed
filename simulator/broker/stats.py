"""What the embedded broker counts, for the device status: ``broker.stats()`` returns a frozen ``BrokerStats``."""

from __future__ import annotations

from dataclasses import dataclass, fields

from pydantic import BaseModel, ConfigDict, Field


class BrokerStats(BaseModel):
    """A snapshot of the broker's counters since it started (``connections`` is the current number)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    impl: str = Field(description="amqtt or mosquitto")
    connections: int = Field(0, description="sockets open now (connected clients and those still connecting)")
    clients: int = Field(0, description="clients connected now (CONNECT accepted)")
    accepted: int = Field(0, description="connections accepted (CONNACK 0) since start")
    refused_auth: int = Field(0, description="CONNECTs refused for wrong or absent credentials (CONNACK 4/5)")
    refused_acl: int = Field(0, description="publishes, subscriptions and wills the client was not allowed")
    refused_full: int = Field(0, description="sockets closed at once because max_connections were open")
    oversize: int = Field(0, description="packets larger than max_packet_bytes (connection closed)")
    timeouts: int = Field(0, description="no CONNECT within connect_timeout, or silent past 1.5 x keep-alive")
    protocol_errors: int = Field(0, description="malformed or out-of-order packets (connection closed)")
    takeovers: int = Field(0, description="connections ended by a newer one with the same client id")
    slow_consumer_disconnects: int = Field(0, description="clients disconnected because their QoS 1 queue was full")
    qos0_dropped: int = Field(0, description="QoS 0 messages dropped for clients that could not keep up")
    queued_dropped: int = Field(0, description="QoS 1 messages dropped: disconnected sessions' full queues, "
                                               "retained topics beyond max_retained")
    received: int = Field(0, description="PUBLISH packets accepted from clients")
    delivered: int = Field(0, description="PUBLISH packets sent or queued to subscribers")

    def as_json(self) -> dict:
        return self.model_dump()


@dataclass
class Counters:
    """The broker loop's running counters (plain ints: written by the loop, read from any thread)."""

    accepted: int = 0
    refused_auth: int = 0
    refused_acl: int = 0
    refused_full: int = 0
    oversize: int = 0
    timeouts: int = 0
    protocol_errors: int = 0
    takeovers: int = 0
    slow_consumer_disconnects: int = 0
    qos0_dropped: int = 0
    queued_dropped: int = 0
    received: int = 0
    delivered: int = 0

    def snapshot(self, impl: str, connections: int, clients: int) -> BrokerStats:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return BrokerStats(impl=impl, connections=connections, clients=clients, **values)
