"""The embedded broker under the faults that used to take it down, each measured and printed in one run:

1. 1,050 silent sockets (opened by another process): are they closed, do MQTT and an HTTP server (of the process
   that started the broker) keep answering, how many file descriptors does the broker's process hold at the peak?
2. A PUBLISH announcing 268 MB: is the connection closed at once, does the broker's memory move?
3. A publisher flooding ~1 KB QoS 1 messages for 20 s, to ``$aws/things/flood/infer`` and ``classroom/flood``,
   with subscribers that never read (on ``#`` and on ``$aws/things/+/infer``, at QoS 0 and 1): broker memory
   growth, what a healthy subscriber received, drops, slow-consumer disconnects — and how many log lines the
   broker wrote meanwhile.
4. 200 clients publishing to a reserved ``$SYS`` topic: how many connections are left open (zombies)?

With ``--impl mosquitto`` the raw clients log in as an instructor (mosquitto's anonymous clients are read-only).

Usage: python bench/broker_faults.py [--impl amqtt|mosquitto] [--flood-seconds 20]
"""

from __future__ import annotations

import argparse
import http.server
import logging
import multiprocessing as mp
import os
import socket
import struct
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.broker.embedded import EmbeddedBroker  # noqa: E402
from simulator.broker.settings import BrokerSettings  # noqa: E402


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


CREDENTIALS: tuple[str, str] | None = None  # raw clients log in with these when set (mosquitto: anonymous is read-only)


def _text(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str, keepalive: int = 0) -> bytes:
    flags = 0x02 | (0xC0 if CREDENTIALS else 0)
    body = b"\x00\x04MQTT\x04" + bytes((flags,)) + struct.pack("!H", keepalive) + _text(client_id)
    if CREDENTIALS:
        body += _text(CREDENTIALS[0]) + _text(CREDENTIALS[1])
    return bytes((0x10, len(body))) + body


def subscribe_packet(topic_filter: str, qos: int) -> bytes:
    raw = topic_filter.encode()
    body = struct.pack("!HH", 1, len(raw)) + raw + bytes((qos,))
    return bytes((0x82, len(body))) + body


def publish_packet(topic: str, payload: bytes, pid: int = 0) -> bytes:
    raw = topic.encode()
    body = struct.pack("!H", len(raw)) + raw + (struct.pack("!H", pid) if pid else b"") + payload
    length, out = len(body), bytearray()
    while True:
        length, byte = divmod(length, 128)
        out.append(byte | (0x80 if length else 0))
        if not length:
            break
    return (b"\x32" if pid else b"\x30") + bytes(out) + body


def drain(sock: socket.socket) -> None:
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def silent_sockets(port: int, count: int, hold: float, result) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> socket.socket | None:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            return None

    with ThreadPoolExecutor(32) as pool:  # all of them within about a second, well inside connect_timeout
        made = list(pool.map(one, range(count)))
    socks = [s for s in made if s is not None]
    refused = count - len(socks)
    time.sleep(hold)
    closed = 0
    for s in socks:
        s.settimeout(0.01)
        try:
            closed += s.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            closed += 1
        except TimeoutError:
            pass
        s.close()
    result.put((len(socks), refused, closed))


def serves_mqtt(port: int, credentials) -> bool:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{time.monotonic_ns()}")
    if credentials:
        client.username_pw_set(*credentials)
    ok = threading.Event()
    client.on_connect = lambda c, u, f, rc, p=None: ok.set() if not rc.is_failure else None
    try:
        client.connect("127.0.0.1", port)
    except OSError:
        return False
    client.loop_start()
    try:
        return ok.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()


def serves_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default="amqtt", choices=["amqtt", "mosquitto"])
    parser.add_argument("--flood-seconds", type=float, default=20.0)
    args = parser.parse_args()
    lines = {"n": 0}

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines["n"] += 1

    logging.basicConfig(level=logging.WARNING, format="    log: %(name)s: %(message)s")
    logging.getLogger().addHandler(Count())
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))  # the usual default
    except (ImportError, ValueError):
        pass
    broker = EmbeddedBroker.from_settings(BrokerSettings(port=0, impl=args.impl), hosted_things=["lens"]).start()
    pid = (broker._child or broker._process).pid  # noqa: SLF001 - the broker's own process is measured
    global CREDENTIALS
    creds = broker.issue_credentials("bench", role="instructor") if args.impl == "mosquitto" else None
    CREDENTIALS = creds
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{web.server_address[1]}/"
    print(f"broker: {args.impl}, load average {os.getloadavg()[0]:.2f} (2 cores)")
    try:
        # 1. silent sockets
        ctx = mp.get_context("spawn")
        result = ctx.Queue()
        child = ctx.Process(target=silent_sockets, args=(broker.port, 1050, 7.0, result))
        fd_peak, mqtt_ok, http_ok = fds(pid), True, True
        child.start()
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            fd_peak = max(fd_peak, fds(pid))
            time.sleep(0.5)
        mqtt_ok, http_ok = serves_mqtt(broker.port, creds), serves_http(url)
        opened, refused, closed = result.get(timeout=30)
        child.join(10)
        s = broker.stats()
        print(f"1. 1,050 silent sockets: {opened} connected, {closed} closed by the broker within 7 s "
              f"(at once: {s.refused_full}, after connect_timeout: {s.timeouts}); MQTT answering: {mqtt_ok}, "
              f"HTTP answering: {http_ok}; peak file descriptors of the broker's process: {fd_peak}")
        # 2. oversize
        rss0 = rss_mb(pid)
        with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as sock:
            sock.sendall(connect_packet("big", 60))
            sock.recv(4)
            t0 = time.monotonic()
            sock.sendall(b"\x30\xff\xff\xff\x7f" + b"\x00\x05topic" + b"x" * 65536)
            try:
                while sock.recv(65536):
                    pass
            except (ConnectionResetError, BrokenPipeError):
                pass
            took = time.monotonic() - t0
        print(f"2. PUBLISH announcing 268,435,455 bytes: closed after {took * 1000:.1f} ms; broker RSS "
              f"{rss0:.1f} -> {rss_mb(pid):.1f} MB; oversize counted: {broker.stats().oversize}")
        # 3. flood with stalled subscribers
        import paho.mqtt.client as mqtt

        stalled = []
        for i, (flt, qos) in enumerate((("#", 0), ("#", 1), ("$aws/things/+/infer", 0), ("$aws/things/+/infer", 1))):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", broker.port))
            sock.sendall(connect_packet(f"stalled-{i}") + subscribe_packet(flt, qos))
            stalled.append(sock)
        got = {"n": 0}
        healthy = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="healthy")
        if creds:
            healthy.username_pw_set(*creds)
        healthy.on_connect = lambda c, u, f, rc, p=None: c.subscribe("$aws/things/+/infer", 0)
        healthy.on_message = lambda c, u, m: got.__setitem__("n", got["n"] + 1)
        healthy.connect("127.0.0.1", broker.port)
        healthy.loop_start()
        time.sleep(1.0)
        lines_before, rss0, peak = lines["n"], rss_mb(pid), 0.0
        pub = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
        pub.sendall(connect_packet("flooder", 60))
        pub.recv(4)
        threading.Thread(target=drain, args=(pub,), daemon=True).start()  # its PUBACKs
        packet = b"".join(publish_packet(("$aws/things/flood/infer", "classroom/flood")[i % 2], b"x" * 1000, i + 1)
                          for i in range(50))  # QoS 1
        sent, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < args.flood_seconds:
            pub.sendall(packet)
            sent += 50
            if sent % 5000 == 0:
                peak = max(peak, rss_mb(pid))
        time.sleep(2.0)
        s = broker.stats()
        print(f"3. flood: {sent:,} messages sent in {args.flood_seconds:g} s ({s.received:,} taken by the broker) "
              f"with 4 subscribers that never read; broker "
              f"RSS {rss0:.1f} -> peak {max(peak, rss_mb(pid)):.1f} MB; the healthy subscriber got {got['n']:,}; "
              f"QoS 0 dropped {s.qos0_dropped:,}, slow-consumer disconnects {s.slow_consumer_disconnects}; "
              f"log lines meanwhile: {lines['n'] - lines_before}")
        healthy.disconnect()
        healthy.loop_stop()
        for sock in [*stalled, pub]:
            sock.close()
        # 4. reserved topics
        socks = []
        for i in range(200):
            sock = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
            sock.sendall(connect_packet(f"forger-{i}", 60) + publish_packet("$SYS/forged", b"x"))
            socks.append(sock)
        time.sleep(1.0)
        zombies = 0
        for sock in socks:
            sock.settimeout(0.01)
            try:
                data = sock.recv(100)
                zombies += len(data) > 0 and sock.recv(100) != b""
            except (ConnectionResetError, BrokenPipeError):
                pass
            except TimeoutError:
                zombies += 1
            sock.close()
        print(f"4. 200 publishes to $SYS/forged: {zombies} connections left open; refused (ACL) counted: "
              f"{broker.stats().refused_acl}")
    finally:
        web.shutdown()
        broker.stop()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
