"""The embedded broker with real paho clients: $aws topics as AWS IoT Core treats them, ports, flood, retained
messages, persistent sessions, QoS 2 publishers."""

from __future__ import annotations

import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from simulator.broker.embedded import EmbeddedBroker
from simulator.errors import PortInUseError
from simulator.ipc.mqtt import MqttLink, disconnect_and_stop


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
        deadline = time.monotonic() + 10
        while link.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert link.disconnects >= 1  # a policy violation ends the connection, as on AWS IoT Core
        marker = subscribe(broker.port, "marker")
        sender = MqttLink("127.0.0.1", broker.port).start()
        sender.publish("marker", b"after")  # handled after the forged publish (its refusal was seen already)
        sender.stop()
        marker.wait_for(lambda m: m[0] == "marker", timeout=10)
        assert sys_sub.messages == [] and broker.stats().refused_acl >= 1
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


def _client(port: int, client_id: str, clean: bool = True) -> tuple[mqtt.Client, list]:
    got: list = []
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    client.on_connect = lambda *a: ready.set()
    client.on_message = lambda c, u, m: got.append((m.topic, m.payload, m.qos, m.retain))
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert ready.wait(10)
    return client, got


def _subscribe(client: mqtt.Client, topic_filter: str) -> None:
    """Subscribe at QoS 1 and wait for the SUBACK."""
    done = threading.Event()
    client.on_subscribe = lambda *a: done.set()
    client.subscribe(topic_filter, qos=1)
    assert done.wait(10)


def _wait(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_retained_messages_reach_later_subscribers_until_cleared(broker):
    pub, _ = _client(broker.port, "retainer")
    pub.publish("lens/state", b"on", qos=1, retain=True).wait_for_publish(5)
    late, got = _client(broker.port, "late")
    late.subscribe("lens/#", qos=1)
    _wait(lambda: got == [("lens/state", b"on", 1, True)])
    pub.publish("lens/state", b"live", qos=1).wait_for_publish(5)
    _wait(lambda: len(got) == 2)
    assert got[1] == ("lens/state", b"live", 1, False)  # a live message is not flagged retained
    pub.publish("lens/state", b"", qos=1, retain=True).wait_for_publish(5)  # clears it
    later, got_later = _client(broker.port, "later")
    _subscribe(later, "lens/#")  # retained messages go out with the SUBACK, before anything published after it
    pub.publish("lens/marker", b"after", qos=1).wait_for_publish(5)
    _wait(lambda: got_later)
    assert got_later == [("lens/marker", b"after", 1, False)]  # the cleared one was not kept
    for c in (pub, late, later):
        disconnect_and_stop(c)


def test_a_persistent_session_gets_what_was_published_while_it_was_away(broker):
    sub, _ = _client(broker.port, "keeper", clean=False)
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.subscribe("mail/#", qos=1)
    assert subscribed.wait(10)
    disconnect_and_stop(sub)
    observer, seen = _client(broker.port, "observer")
    _subscribe(observer, "mail/#")
    pub, _ = _client(broker.port, "sender")
    for i in range(3):
        pub.publish(f"mail/{i}", b"while away", qos=1).wait_for_publish(5)
    pub.publish("mail/q0", b"not kept", qos=0)
    _wait(lambda: len(seen) == 4)  # all four were routed while the keeper was away
    back, got = _client(broker.port, "keeper", clean=False)
    _wait(lambda: len(got) == 3)
    pub.publish("mail/marker", b"after", qos=1).wait_for_publish(5)
    _wait(lambda: len(got) == 4)
    assert [(t, q, r) for t, _, q, r in got] == [*((f"mail/{i}", 1, False) for i in range(3)),  # not retained
                                                 ("mail/marker", 1, False)]  # and the QoS 0 one was not kept
    for c in (pub, back, observer):
        disconnect_and_stop(c)


def test_a_qos2_publish_is_delivered_once_at_qos1(broker):
    sub, got = _client(broker.port, "q2-sub")
    granted = threading.Event()
    sub.on_subscribe = lambda c, u, mid, codes, p=None: granted.set() if codes[0].value == 1 else None
    sub.subscribe("q2/#", qos=2)
    assert granted.wait(10)  # QoS 2 is granted as QoS 1, as on AWS IoT Core
    pub, _ = _client(broker.port, "q2-pub")
    pub.publish("q2/x", b"exactly", qos=2).wait_for_publish(5)
    pub.publish("q2/marker", b"after", qos=1).wait_for_publish(5)
    _wait(lambda: len(got) == 2)
    assert sorted(got) == [("q2/marker", b"after", 1, False), ("q2/x", b"exactly", 1, False)]  # delivered once
    # (amqtt routes a QoS 2 message once its handshake is over: the marker may overtake it)
    for c in (pub, sub):
        disconnect_and_stop(c)


def test_stats_count_what_the_broker_did(broker, subscribe):
    sub = subscribe(broker.port, "count/#")
    link = MqttLink("127.0.0.1", broker.port).start()
    try:
        for i in range(5):
            link.publish("count/x", b"%d" % i)
        sub.wait_for(lambda m: m[1] == b"4", timeout=10)
        stats = broker.stats()
        assert stats.impl == "amqtt" and stats.clients == 2 and stats.connections == 2
        assert stats.accepted == 2 and stats.received == 5 and stats.delivered == 5
        assert stats.model_config["frozen"]
    finally:
        link.stop()


class _EndsWhileCompared(threading.Thread):
    """Stands in for a paho network thread that ends between loop_stop's ``is None`` check and its join (paho
    clears ``client._thread`` as its thread ends): loop_stop compares it with the current thread in between."""

    def __init__(self, client: mqtt.Client) -> None:
        super().__init__()
        self.client = client

    def __ne__(self, other: object) -> bool:
        self.client._thread = None
        return True


def test_stopping_a_client_survives_the_network_thread_ending_first(broker):
    client, _ = _client(broker.port, "race")
    network = client._thread
    assert network is not None
    client._thread = _EndsWhileCompared(client)
    with pytest.raises(AttributeError):  # what paho's own stop does then (eclipse-paho/paho.mqtt.python#872)
        client.loop_stop()
    client._thread = _EndsWhileCompared(client)
    disconnect_and_stop(client)  # no error
    network.join(10)
    assert not network.is_alive()
