"""Log floods: the rate-limiting filter for library loggers, and the broker's own refusals logged once a minute."""

from __future__ import annotations

import logging
import socket
import struct

from simulator.broker.embedded import EmbeddedBroker
from simulator.broker.logfilter import LogThrottle, RateLimitFilter
from simulator.broker.settings import BrokerSettings


def _record(name: str, msg: str, *args, created: float, level: int = logging.WARNING) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, msg, args or None, None)
    record.created = created
    return record


def test_variants_of_one_template_pass_once_a_minute_with_a_count():
    f = RateLimitFilter(("asyncio", "amqtt"), interval=60)
    passed = [r for i in range(1000)
              if f.filter(r := _record("asyncio", "socket.send() raised exception for %s", f"client-{i}",
                                       created=1000.0 + i * 0.01))]
    assert len(passed) == 1 and passed[0].getMessage() == "socket.send() raised exception for client-0"
    later = _record("asyncio", "socket.send() raised exception for %s", "client-x", created=1061.0)
    assert f.filter(later)
    assert later.getMessage() == "socket.send() raised exception for client-x (999 more in the last 60 s)"


def test_formatted_messages_without_arguments_collapse_on_their_numbers_and_ids():
    f = RateLimitFilter(("amqtt",), interval=60)
    texts = [f"Client 'c{i}' session 0x{i:04x} dropped after {i} messages" for i in range(500)]
    passed = [t for i, t in enumerate(texts) if f.filter(_record("amqtt.broker", t, created=10.0 + i * 0.1))]
    assert passed == texts[:1]
    last = _record("amqtt.broker", "Client 'z' session 0xffff dropped after 7 messages", created=200.0)
    assert f.filter(last) and last.getMessage().endswith("(499 more in the last 60 s)")


def test_other_loggers_kinds_and_levels_pass_untouched():
    f = RateLimitFilter(("asyncio",), interval=60)
    for i in range(5):
        assert f.filter(_record("simulator.core", "frame %d", i, created=1.0 + i))
    assert f.filter(_record("asyncio", "one kind %s", 1, created=1.0))
    assert f.filter(_record("asyncio", "another kind %s", 1, created=1.0))
    assert f.filter(_record("asyncio", "one kind %s", 2, created=1.0, level=logging.ERROR))
    assert not f.filter(_record("asyncio", "one kind %s", 3, created=2.0))


def test_tracebacks_of_limited_records_are_dropped():
    f = RateLimitFilter(("transitions",), interval=60)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("transitions.core", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert f.filter(record) and record.exc_info is None


def test_throttle_counts_what_it_held_back(caplog):
    logger = logging.getLogger("tests.throttle")
    throttle = LogThrottle(logger, interval=0.2)
    with caplog.at_level(logging.WARNING, logger="tests.throttle"):
        for i in range(100):
            throttle.warning("drop", "client %s dropped", i)
        import time

        time.sleep(0.25)
        throttle.warning("drop", "client %s dropped", "last")
        for i in range(3):
            throttle.warning("drop", "client %s dropped", f"burst-{i}")
        time.sleep(0.25)
        throttle.flush()  # the burst's count is told even though nothing follows it
    assert [r.getMessage() for r in caplog.records] == [
        "client 0 dropped", "client last dropped (99 more in the last 0.2 s)",
        "client burst-2 dropped (the last of 3 in the last 0.2 s)"]


def test_a_flood_of_refusals_is_one_log_line(caplog):
    broker = EmbeddedBroker.from_settings(BrokerSettings(port=0)).start()
    try:
        with caplog.at_level(logging.INFO):
            for i in range(40):
                cid = f"forger-{i}".encode()
                body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(cid)) + cid
                topic = b"$SYS/forged"
                publish = b"\x30" + bytes((2 + len(topic) + 1,)) + struct.pack("!H", len(topic)) + topic + b"x"
                with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as sock:
                    sock.sendall(bytes((0x10, len(body))) + body + publish)
                    while sock.recv(100):
                        pass
        assert broker.stats().refused_acl == 40
    finally:
        broker.stop()
    lines = [r.getMessage() for r in caplog.records if "may not publish" in r.getMessage()]
    assert len(lines) == 1 and "forger-0" in lines[0]


def test_amqtts_own_log_floods_are_one_line_each(caplog):
    """amqtt logs every stray packet (here: PUBACKs for messages it never sent), with the id in the text."""
    broker = EmbeddedBroker.from_settings(BrokerSettings(port=0)).start()
    try:
        with caplog.at_level(logging.WARNING, logger="amqtt"), \
                socket.create_connection(("127.0.0.1", broker.port), timeout=10) as sock:
            body = b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x05stray"
            sock.sendall(bytes((0x10, len(body))) + body)
            assert sock.recv(4) == b"\x20\x02\x00\x00"
            sock.sendall(b"".join(b"\x40\x02" + struct.pack("!H", i) for i in range(1, 201)))
            sock.sendall(b"\xc0\x00")  # PINGREQ: answered once the PUBACKs before it are read
            assert sock.recv(2) == b"\xd0\x00"
    finally:
        broker.stop()
    lines = [r.getMessage() for r in caplog.records if "unknown pending message" in r.getMessage()]
    assert len(lines) == 1 and "'1'" in lines[0]
