"""The embedded broker's limits under protocol abuse (raw sockets) and slow subscribers (raw and paho clients):
oversize packets, silent sockets, too many sockets, dead keep-alives, forbidden $ topics, takeovers, floods."""

from __future__ import annotations

import socket
import threading
import time

import paho.mqtt.client as mqtt
import psutil
import pytest

from simulator.broker.embedded import fit_connections
from simulator.ipc.mqtt import disconnect_and_stop
from tests.support.mqtt_packets import (
    connect_packet,
    publish_packet,
    subscribe_packet,
)


def raw_client(port: int, client_id: str | None = None, **kw) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if client_id is not None:
        sock.sendall(connect_packet(client_id, **kw))
        assert sock.recv(4)[:2] == b"\x20\x02", "no CONNACK"
    return sock


def closed(sock: socket.socket, within: float = 5.0) -> bool:
    """True if the broker closes the socket within ``within`` seconds (whatever it sent before)."""
    sock.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return False


def still_serves(port: int) -> bool:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{time.monotonic_ns()}")
    ok = threading.Event()
    client.on_connect = lambda c, u, f, rc, p=None: ok.set() if not rc.is_failure else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return ok.wait(10)
    finally:
        disconnect_and_stop(client)


def test_oversize_publish_is_refused_when_its_header_arrives(start_broker):
    b = start_broker()
    sock = raw_client(b.port, "big")
    sock.sendall(b"\x30\xff\xff\xff\x7f" + b"\x00\x05topic")  # announces 268,435,455 bytes, sends 7
    assert closed(sock)
    assert b.stats().oversize == 1
    assert still_serves(b.port)


def test_payload_over_the_limit_is_refused_and_under_it_delivered(start_broker, subscribe):
    b = start_broker(max_packet_bytes=2048)
    sub = subscribe(b.port, "sizes/#")
    sock = raw_client(b.port, "sizer")
    sock.sendall(publish_packet("sizes/ok", b"a" * 2048))
    sub.wait_for(lambda m: m == ("sizes/ok", b"a" * 2048), timeout=10)
    sock.sendall(publish_packet("sizes/big", b"b" * 2049))
    assert closed(sock)
    assert b.stats().oversize == 1 and [t for t, _ in sub.messages] == ["sizes/ok"]


def test_silent_and_half_connect_sockets_are_closed(start_broker):
    b = start_broker(connect_timeout=0.5)
    silent = raw_client(b.port)
    half = raw_client(b.port)
    half.sendall(connect_packet("half")[:9])
    assert closed(silent) and closed(half)
    assert b.stats().timeouts == 2 and b.stats().connections == 0


def test_sockets_beyond_max_connections_are_closed_at_once(start_broker):
    b = start_broker(max_connections=5, connect_timeout=30)
    held = [raw_client(b.port) for _ in range(5)]
    extra = [raw_client(b.port) for _ in range(20)]
    assert all(closed(s, within=5) for s in extra)
    stats = b.stats()
    assert stats.refused_full == 20 and stats.connections == 5
    for s in held:
        s.close()
    assert still_serves(b.port)  # room again once they are gone


def test_open_files_limit_is_raised_to_fit_the_connections(start_broker):
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4000:
        pytest.skip(f"hard open-files limit {hard} is too low to try")
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
    try:
        assert fit_connections(1000) == 1000
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 1000
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
        b = start_broker(max_connections=3000)  # its process starts with 512 and makes room for its own sockets
        child_soft = psutil.Process(b._process.pid).rlimit(psutil.RLIMIT_NOFILE)[0]  # noqa: SLF001
        assert child_soft >= 3000 and resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 512  # ours is untouched
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_keepalive_is_enforced_and_the_will_is_sent(start_broker, subscribe):
    b = start_broker()
    sub = subscribe(b.port, "wills/#")
    sock = raw_client(b.port, "sleepy", keepalive=1, will=("wills/sleepy", b"gone"))
    assert closed(sock, within=6)  # 1.5 x 1 s, checked twice a second
    sub.wait_for(lambda m: m == ("wills/sleepy", b"gone"), timeout=10)
    assert b.stats().timeouts == 1


def test_publish_to_a_reserved_dollar_topic_disconnects_instead_of_leaving_a_zombie(start_broker, subscribe):
    b = start_broker()
    sys_sub = subscribe(b.port, "$SYS/#")
    sock = raw_client(b.port, "forger")
    sock.sendall(publish_packet("$SYS/forged", b"x"))
    assert closed(sock)  # amqtt kept this socket open and never served it again
    stats = b.stats()
    assert stats.refused_acl == 1 and stats.clients == 1  # only the subscriber is left
    assert sys_sub.messages == []
    assert still_serves(b.port)


def test_malformed_packets_close_the_connection(start_broker):
    b = start_broker()
    first_not_connect = raw_client(b.port)
    first_not_connect.sendall(b"\xc0\x00")  # PINGREQ before CONNECT
    long_length = raw_client(b.port, "garbled")
    long_length.sendall(b"\x30\xff\xff\xff\xff\x01")  # a remaining length of 5 bytes
    assert closed(first_not_connect) and closed(long_length)
    assert b.stats().protocol_errors == 2


def test_same_client_id_disconnects_the_older_connection(start_broker):
    b = start_broker()
    old = raw_client(b.port, "twin", clean=False)
    old.sendall(subscribe_packet("twins/#", qos=1))
    assert old.recv(5)[:1] == b"\x90"  # SUBACK
    new = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    new.sendall(connect_packet("twin", clean=False))
    assert new.recv(4) == b"\x20\x02\x01\x00"  # CONNACK, session present: the subscription carries over
    assert closed(old)
    assert b.stats().takeovers == 1
    pub = raw_client(b.port, "twin-feeder")
    pub.sendall(publish_packet("twins/a", b"hello"))
    new.settimeout(10)
    assert b"twins/a" in new.recv(100)


def _stalled(port: int, client_id: str, qos: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(connect_packet(client_id, keepalive=0) + subscribe_packet("$aws/things/+/infer", qos))
    return sock  # never read again


def test_a_stalled_subscriber_never_stalls_the_others(start_broker, subscribe):
    bound = 2 * 1024 * 1024
    b = start_broker(max_queued_bytes_per_client=bound, max_queued_per_client=100000)
    process = psutil.Process(b._process.pid)  # noqa: SLF001 - the broker's own memory is the point
    healthy = subscribe(b.port, "$aws/things/+/infer")
    stalled0, stalled1 = _stalled(b.port, "stalled-0", 0), _stalled(b.port, "stalled-1", 1)
    time.sleep(0.3)
    rss0 = process.memory_info().rss
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="flood")
    publisher.connect("127.0.0.1", b.port)
    publisher.loop_start()
    # 12 MB at ~400 messages/s: far more than the stalled ones' socket buffers and queues take, while the healthy
    # subscriber (a paho thread of this busy process) needs to stay less than 2 MiB behind
    total, payload = 3000, b"x" * 4000
    try:
        for i in range(total):
            publisher.publish("$aws/things/flood/infer", b"%06d" % i + payload, qos=1)
            if i % 40 == 39:
                time.sleep(0.1)
        healthy.wait_for(lambda m: m[1].startswith(b"%06d" % (total - 1)), timeout=60)
    finally:
        disconnect_and_stop(publisher)
    assert len({p[:6] for _, p in healthy.messages}) == total  # QoS 1: every one, during the flood
    growth = process.memory_info().rss - rss0
    assert growth < 8_000_000  # 12 MB went past the stalled ones (unbounded: +13 MB); their queues are bounded
    stats = b.stats()
    assert stats.qos0_dropped > 0 and stats.slow_consumer_disconnects == 1
    deadline = time.monotonic() + 10  # the flood's own DISCONNECT may still be on its way to the broker
    while b.stats().clients != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.stats().clients == 2  # the healthy one and stalled-0 (QoS 0: still connected, losing messages)
    stalled0.close()
    stalled1.close()
