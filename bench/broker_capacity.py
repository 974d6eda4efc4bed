"""A classroom on one broker, measured side by side in one run: the embedded broker and mosquitto (and amqtt).

Each scenario: N devices (paho-mqtt clients, split over 2 processes, each process driving its clients from one
thread and one selector so that the clients are not what is measured) publish ~1 KB JSON at 30 msg/s, QoS 1, to
``$aws/things/<device>/infer``, logged in with per-run credentials the broker issued; one subscriber on
``$aws/things/+/infer`` (QoS 1, in the first process) timestamps what arrives. Printed per broker:
publish-to-delivery latency (p50 / p99 / max, ms), messages lost, broker CPU and resident memory, and (builtin)
the longest delay of the broker's event loop — what the broker itself added to the worst latency. Scenarios:
50 devices, 100 devices, and 100 devices with two stalled subscribers (raw sockets that subscribe — one at QoS 0,
one at QoS 1 — and never read) for 60 s: broker RSS growth, and what the healthy subscriber got meanwhile.

Goals: 50 devices p99 < 10 ms, nothing lost; 100 devices p99 < 50 ms, no collapse; RSS growth < 50 MB with the
stalled subscribers. The load average is printed before each run: the machine may be shared, so compare brokers
within one run.

Brokers: ``builtin`` (simulator/broker, in a thread of this process, as in the simulator's core), ``mosquitto``
(/usr/sbin/mosquitto through impl="mosquitto", if installed), ``amqtt`` (amqtt 0.12 stock, in a thread of this
process, as the simulator embedded it before; it refuses client publishes to ``$`` topics, so it carries
``aws/things/...`` instead — the same work; its clients are anonymous). amqtt is not a dependency of the simulator:
``pip install amqtt==0.12.1`` to include it.

Usage: python bench/broker_capacity.py [--brokers builtin,mosquitto,amqtt] [--seconds 15] [--stall-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import selectors
import socket
import struct
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = 30.0
PAD = "x" * 900


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the client processes ----------------------------------------------------------------------------------------
class Selector:
    """paho clients driven by one thread and one selector (paho's external-loop API): no GIL contention between
    50 client threads, so what is measured is the broker."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.clients: list = []

    def add(self, client, port: int, credentials: tuple[str, str] | None) -> None:
        if credentials is not None:
            client.username_pw_set(*credentials)
        client.connect("127.0.0.1", port, keepalive=60)
        self.sel.register(client.socket(), selectors.EVENT_READ, client)
        self.clients.append(client)

    def turn(self, timeout: float) -> None:
        for c in self.clients:
            if c.want_write():
                c.loop_write()
        for key, _ in self.sel.select(max(0.0, timeout)):
            key.data.loop_read()

    def run_until(self, done, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            self.turn(0.01)
        return done()


def clients(port: int, prefix: str, credentials, devices: list[int], seconds: float, subscribe: bool, ready, go,
            out) -> None:
    import paho.mqtt.client as mqtt

    loop = Selector()
    received: list[tuple[int, int, float]] = []
    subscribed: list[bool] = []
    if subscribe:
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{os.getpid()}")
        sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe(f"{prefix}+/infer", qos=1)
        sub.on_subscribe = lambda *a: subscribed.append(True)

        def on_message(c, u, msg) -> None:
            now = time.monotonic()
            data = json.loads(msg.payload)
            received.append((data["d"], data["n"], now - data["t"]))

        sub.on_message = on_message
        loop.add(sub, port, None)
        loop.run_until(lambda: subscribed, 10)
    pubs = []
    for d in devices:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-dev-{d}")
        c.max_queued_messages_set(0)
        loop.add(c, port, credentials)
        pubs.append((d, c, f"{prefix}dev{d}/infer"))
    loop.run_until(lambda: all(c.is_connected() for _, c, _ in pubs), 20)
    ready.set()
    while not go.is_set():
        loop.turn(0.01)
    sent, k = 0, 0
    start = time.monotonic()
    period = 1.0 / (RATE * len(pubs))
    last_misc = start
    while True:
        due = start + k * period
        if due - start >= seconds:
            break
        now = time.monotonic()
        if due > now:
            loop.turn(due - now)
            continue
        d, c, topic = pubs[k % len(pubs)]
        payload = json.dumps({"d": d, "n": k // len(pubs), "t": time.monotonic(), "pad": PAD})
        if c.publish(topic, payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS:
            sent += 1
        k += 1
        if now - last_misc > 1.0:
            last_misc = now
            for cl in loop.clients:
                cl.loop_misc()
    out.put(("sent", sent))
    if subscribe:
        state = {"n": -1, "t": time.monotonic()}

        def settled() -> bool:  # nothing new for 1 s
            if len(received) != state["n"]:
                state["n"], state["t"] = len(received), time.monotonic()
            return time.monotonic() - state["t"] > 1.0

        loop.run_until(settled, 15)
        out.put(("received", received))
    else:
        loop.run_until(lambda: False, 2.0)  # let the last QoS 1 publishes be acknowledged
    for c in loop.clients:
        c.disconnect()
    loop.run_until(lambda: False, 0.2)


# -- the brokers ---------------------------------------------------------------------------------------------------
class Broker:
    prefix = "$aws/things/"

    def __init__(self, name: str) -> None:
        self.name = name
        self.pid = os.getpid()
        self.port = 0
        self.credentials: tuple[str, str] | None = None
        self.lag = float("nan")  # the longest event-loop delay seen (builtin only)
        self._stop = lambda: None
        self.stats = lambda: None

    def start(self) -> Broker:
        from simulator.broker.embedded import EmbeddedBroker
        from simulator.broker.settings import BrokerSettings

        if self.name == "amqtt":
            return self._start_amqtt()
        broker = EmbeddedBroker.from_settings(BrokerSettings(port=0, impl=self.name)).start()
        self.port, self._stop, self.stats = broker.port, broker.stop, broker.stats
        if self.name == "builtin":
            self._watch_loop(broker._loop.loop)  # noqa: SLF001 - the broker's own event loop
        self.credentials = broker.issue_credentials("bench-devices", role="instructor")
        if self.name == "mosquitto":
            self.pid = broker._child.pid  # noqa: SLF001 - the child's memory and CPU are what we measure
        return self

    def _watch_loop(self, loop) -> None:
        """Record how late the broker's event loop runs a 10 ms timer: the broker's own share of any latency."""
        self.lag = 0.0

        async def watch() -> None:
            while True:
                t = loop.time()
                await asyncio.sleep(0.01)
                self.lag = max(self.lag, loop.time() - t - 0.01)

        asyncio.run_coroutine_threadsafe(watch(), loop)

    def _start_amqtt(self) -> Broker:
        from amqtt.broker import Broker as AmqttBroker

        from simulator.aio_thread import LoopThread, check_port

        self.prefix = "aws/things/"
        self.port = check_port("127.0.0.1", 0, "MQTT", "")
        loop, holder = LoopThread("amqtt"), {}

        async def boot() -> None:
            holder["b"] = AmqttBroker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                                       "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                                                   {"allow_anonymous": True}}})
            await holder["b"].start()

        loop.start(boot())
        self._stop = lambda: loop.stop(holder["b"].shutdown())
        return self

    def stop(self) -> None:
        self._stop()


def stall(port: int, prefix: str, qos: int) -> socket.socket:
    """A subscriber that connects, subscribes and never reads again."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    cid = f"stalled-{qos}".encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x00" + struct.pack("!H", len(cid)) + cid
    sock.sendall(bytes((0x10, len(body))) + body)
    flt = f"{prefix}+/infer".encode()
    body = struct.pack("!H", 1) + struct.pack("!H", len(flt)) + flt + bytes((qos,))
    sock.sendall(bytes((0x82, len(body))) + body)
    return sock


def run(broker: Broker, devices: int, seconds: float, stalled: bool = False) -> dict:
    ctx = mp.get_context("spawn")
    out, go = ctx.Queue(), ctx.Event()
    halves = [list(range(0, devices, 2)), list(range(1, devices, 2))]
    readies = [ctx.Event() for _ in halves]
    procs = [ctx.Process(target=clients, args=(broker.port, broker.prefix, broker.credentials, h, seconds, i == 0, r,
                                                 go, out))
             for i, (h, r) in enumerate(zip(halves, readies, strict=True))]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(60)
    time.sleep(1.0)
    stalls = [stall(broker.port, broker.prefix, q) for q in (0, 1)] if stalled else []
    load = os.getloadavg()
    rss0, cpu0, t0 = _rss_mb(broker.pid), _cpu_s(broker.pid), time.monotonic()
    if broker.lag == broker.lag:
        broker.lag = 0.0
    go.set()
    peak = rss0
    sent, received = 0, []
    while len([1 for p in procs if p.is_alive()]) and time.monotonic() - t0 < seconds + 40:
        time.sleep(0.5)
        peak = max(peak, _rss_mb(broker.pid))
        while not out.empty():
            kind, value = out.get()
            if kind == "sent":
                sent += value
            else:
                received = value
        if not any(p.is_alive() for p in procs):
            break
    cpu = _cpu_s(broker.pid) - cpu0
    while not out.empty():
        kind, value = out.get()
        sent, received = (sent + value, received) if kind == "sent" else (sent, value)
    for p in procs:
        p.join(5)
    for s in stalls:
        s.close()
    lat = sorted(r[2] * 1000 for r in received)
    unique = len({(d, n) for d, n, _ in received})

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    return {"broker": broker.name, "devices": devices, "stalled": stalled, "load": load[0], "sent": sent,
            "received": unique, "lost": sent - unique, "p50": pct(0.50), "p99": pct(0.99),
            "max": lat[-1] if lat else float("nan"), "cpu_pct": 100 * cpu / seconds,
            "rss0": rss0, "rss_peak": peak, "stats": broker.stats(), "lag": broker.lag * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", default="builtin,mosquitto,amqtt")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--stall-seconds", type=float, default=60.0)
    args = parser.parse_args()
    names = [n for n in args.brokers.split(",") if n]
    if "mosquitto" in names and not Path("/usr/sbin/mosquitto").exists():
        print("mosquitto is not installed (/usr/sbin/mosquitto): skipped")
        names.remove("mosquitto")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores); Python {sys.version.split()[0]}, "
          f"event loop: {asyncio.get_event_loop_policy().__class__.__module__}")
    print(f"{'broker':<10} {'devices':>7} {'stalled':>7} {'load':>5} {'sent':>7} {'lost':>6} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'CPU %':>6} {'RSS MB':>7} {'growth':>7}")
    rows = []
    for devices, stalled, seconds in ((50, False, args.seconds), (100, False, args.seconds),
                                      (100, True, args.stall_seconds)):
        for name in names:
            if name == "amqtt" and stalled:
                continue  # grows without bound (see the module docstring): not run for a minute
            broker = Broker(name).start()
            try:
                row = run(broker, devices, seconds, stalled)
            finally:
                broker.stop()
            rows.append(row)
            print(f"{row['broker']:<10} {devices:>7} {'yes' if stalled else 'no':>7} {row['load']:>5.2f} "
                  f"{row['sent']:>7} {row['lost']:>6} {row['p50']:>8.1f} {row['p99']:>8.1f} {row['max']:>8.1f} "
                  f"{row['cpu_pct']:>6.0f} {row['rss0']:>7.1f} {row['rss_peak'] - row['rss0']:>+7.1f} "
                  f"{row['lag']:>11.1f}", flush=True)
            if stalled and row["stats"] is not None:
                s = row["stats"]
                print(f"{'':<10} stalled subscribers: {s.qos0_dropped} QoS 0 messages dropped, "
                      f"{s.slow_consumer_disconnects} slow-consumer disconnects")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
