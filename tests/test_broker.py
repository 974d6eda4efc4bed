"""The embedded amqtt broker with real paho clients: $aws topics as AWS IoT Core treats them, ports, flood."""

from __future__ import annotations

import socket
import time

import pytest

from simulator.broker.client import MqttLink
from simulator.broker.embedded import EmbeddedBroker
from simulator.errors import PortInUseError


@pytest.fixture
def broker():
    b = EmbeddedBroker("127.0.0.1", 0).start()
    yield b
    b.stop()


def test_port_zero_picks_a_free_port_on_loopback(broker):
    assert broker.port > 0
    with socket.create_connection(("127.0.0.1", broker.port), timeout=5):
        pass


def test_client_publish_to_aws_topic_reaches_plus_subscribers_not_hash(broker, subscribe):
    infer = subscribe(broker.port, "$aws/things/+/infer")
    everything = subscribe(broker.port, "#")
    link = MqttLink("127.0.0.1", broker.port).start()
    try:
        assert link.publish("$aws/things/deeplens_x/infer", b'{"cat": 0.9}')
        link.publish("plain/after", b"still connected")
        infer.wait_for(lambda m: m == ("$aws/things/deeplens_x/infer", b'{"cat": 0.9}'), timeout=10)
        # MQTT 4.7.2: a filter starting with a wildcard does not match $ topics; the client stays connected
        everything.wait_for(lambda m: m[0] == "plain/after", timeout=10)
        assert all(not t.startswith("$") for t, _ in everything.messages)
    finally:
        link.stop()


def test_other_dollar_topics_stay_refused(broker, subscribe):
    sys_sub = subscribe(broker.port, "$SYS/#")
    link = MqttLink("127.0.0.1", broker.port).start()
    try:
        link.publish("$SYS/forged", b"x")
        time.sleep(1.0)  # give the broker the chance to (wrongly) deliver it
        assert sys_sub.messages == []
    finally:
        link.stop()


def test_port_in_use_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"MQTT port 127.0.0.1:{port} is already in use"):
            EmbeddedBroker("127.0.0.1", port).start()


def test_flooding_publisher_is_bounded_and_broker_survives(broker, subscribe):
    """A Lambda publishing in a tight loop: publishes never block, excess is dropped and counted."""
    sub = subscribe(broker.port, "$aws/things/flood/infer")
    link = MqttLink("127.0.0.1", broker.port).start()
    try:
        for i in range(30000):
            link.publish("$aws/things/flood/infer", b'{"n": %d}' % i)
        assert link.published + link.dropped == 30000
        assert link.dropped > 0  # the bounded queue did its job
        sub.wait_for(lambda m: True, timeout=30)
        probe = MqttLink("127.0.0.1", broker.port).start()  # the broker still serves new clients
        probe.stop()
    finally:
        link.stop()
