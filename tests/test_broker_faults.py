"""What stock amqtt 0.12.1 got wrong, reproduced against the embedded broker (raw sockets and paho clients):
takeovers that left the old client connected and deaf, refused clients that could still take a client id over,
QoS 2 flows that were never bounded, subscribers that read but never acknowledge, retained messages sent to the
wrong clients, QoS not downgraded, duplicate deliveries for overlapping subscriptions."""

from __future__ import annotations

import socket
import struct
import time

from simulator.broker.passwords import PasswordFile
from tests.support.broker_clients import eventually
from tests.support.mqtt_packets import publish_packet, remaining_length, subscribe_packet, text_field
from tests.test_broker_limits import closed, raw_client, still_serves


def read_packets(sock: socket.socket, within: float = 2.0) -> list[tuple[int, bytes]]:
    """The packets that arrive within ``within`` seconds, as (first byte, body)."""
    data, deadline = b"", time.monotonic() + within
    sock.settimeout(0.1)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
    packets, pos = [], 0
    while pos < len(data):
        first, length, mult, pos = data[pos], 0, 1, pos + 1
        while True:
            byte = data[pos]
            pos += 1
            length += (byte & 0x7F) * mult
            mult *= 128
            if not byte & 0x80:
                break
        packets.append((first, data[pos:pos + length]))
        pos += length
    return packets


def test_a_clean_session_takeover_closes_the_old_connection_and_sends_its_will(start_broker, subscribe):
    b = start_broker()
    wills = subscribe(b.port, "wills/#")
    old = raw_client(b.port, "twin", will=("wills/twin", b"old one gone"))
    new = raw_client(b.port, "twin")  # clean session: amqtt kept the old socket open, subscribed to nothing
    assert closed(old)
    wills.wait_for(lambda m: m == ("wills/twin", b"old one gone"), timeout=10)
    new.sendall(subscribe_packet("twins/#", qos=0))
    assert read_packets(new, 0.5)[0][0] == 0x90  # SUBACK
    raw_client(b.port, "feeder").sendall(publish_packet("twins/a", b"to the new one"))
    assert any(body.endswith(b"to the new one") for _, body in read_packets(new, 2.0))
    assert b.stats().takeovers == 1 and b.stats().clients == 2  # the will subscriber and the new twin


def test_a_refused_client_cannot_take_a_connected_client_id_over(start_broker, tmp_path):
    path = tmp_path / "passwd"
    users = PasswordFile(path)
    users.set("lens", "right")
    users.save()
    b = start_broker(password_file=path)
    owner = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    login = text_field("lens") + text_field("right")
    body = text_field("MQTT") + bytes((4, 0xC2)) + struct.pack("!H", 60) + text_field("shared-id") + login
    owner.sendall(b"\x10" + remaining_length(len(body)) + body)
    assert owner.recv(4) == b"\x20\x02\x00\x00"
    impostor = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    body = (text_field("MQTT") + bytes((4, 0xC2)) + struct.pack("!H", 60) + text_field("shared-id")
            + text_field("lens") + text_field("wrong"))
    impostor.sendall(b"\x10" + remaining_length(len(body)) + body)
    assert impostor.recv(4) == b"\x20\x02\x00\x04"  # bad user name or password
    assert closed(impostor)
    owner.sendall(b"\xc0\x00")  # PINGREQ: the owner is still connected and served
    assert owner.recv(2) == b"\xd0\x00"
    assert b.stats().takeovers == 0 and b.stats().refused_auth == 1


def test_qos2_publishes_that_never_get_their_pubrel_are_bounded(start_broker, subscribe):
    b = start_broker(max_inflight_per_client=20)
    sub = subscribe(b.port, "q2/#")
    sock = raw_client(b.port, "no-pubrel")
    sock.sendall(b"".join(publish_packet("q2/x", b"%d" % i, 2, i + 1) for i in range(30)))
    assert closed(sock)
    assert b.stats().protocol_errors == 1
    time.sleep(0.3)
    assert sub.messages == []  # without PUBREL nothing is delivered
    assert still_serves(b.port)


def test_a_subscriber_that_never_acknowledges_is_disconnected_once_its_queue_is_full(start_broker, subscribe):
    b = start_broker(max_inflight_per_client=5, max_queued_per_client=20)
    healthy = subscribe(b.port, "ack/#")
    deaf = raw_client(b.port, "no-puback")
    deaf.sendall(subscribe_packet("ack/#", qos=1))
    assert read_packets(deaf, 0.5)[0][0] == 0x90
    publisher = raw_client(b.port, "acker-feeder")
    for i in range(40):  # paced, so that the healthy subscriber's PUBACKs keep its own window open
        publisher.sendall(publish_packet("ack/x", b"%02d" % i, 1, i + 1))
        time.sleep(0.02)
    got = read_packets(deaf, 1.0)  # reads everything, acknowledges nothing
    assert len([p for p in got if p[0] >> 4 == 3]) == 5  # the in-flight window
    assert closed(deaf)
    healthy.wait_for(lambda m: m[1] == b"39", timeout=10)
    assert len(healthy.messages) == 40
    assert b.stats().slow_consumer_disconnects == 1


def test_retained_messages_go_only_to_matching_subscriptions(start_broker, clients):
    b = start_broker()
    keeper = clients(b.port)
    keeper.subscribe("lens/#")
    clients(b.port).publish("lens/state", b"on")  # QoS 1, retained below
    retainer = raw_client(b.port, "retainer")
    retainer.sendall(b"\x31" + remaining_length(len(text_field("lens/state")) + 2) + text_field("lens/state") + b"on")
    assert eventually(lambda: len(keeper.messages) == 2)
    newcomer = clients(b.port)  # subscribes to nothing: amqtt sent it the retained messages of others' filters
    other = clients(b.port)
    other.subscribe("other/#")
    time.sleep(0.5)
    assert newcomer.messages == [] and other.messages == []


def test_qos_is_downgraded_and_overlapping_subscriptions_deliver_once(start_broker):
    b = start_broker()
    sub = raw_client(b.port, "overlap")
    sub.sendall(subscribe_packet("dup/#", qos=1) + subscribe_packet("dup/x", qos=1, pid=2))
    assert [p[0] for p in read_packets(sub, 0.5)] == [0x90, 0x90]
    raw_client(b.port, "qos0-pub").sendall(publish_packet("dup/x", b"once at QoS 0"))
    publishes = [first for first, body in read_packets(sub, 1.0) if first >> 4 == 3]
    assert publishes == [0x30]  # one copy, QoS 0 (amqtt sent two, each at the subscription's QoS 1)
