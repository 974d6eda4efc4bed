"""A classroom on one broker, measured side by side in one run: the embedded amqtt broker and mosquitto.

Each scenario: N devices (paho-mqtt clients, split over 2 processes, each process driving its clients from one
thread and one selector so that the clients are not what is measured) publish ~1 KB JSON at 30 msg/s, QoS 1, to
``$aws/things/<device>/infer``, logged in with per-run credentials the broker issued; one subscriber on
``$aws/things/+/infer`` (QoS 1, in the first process) timestamps what arrives. Printed per broker:
publish-to-delivery latency (p50 / p99 / max, ms), messages lost, broker CPU and resident memory, and (amqtt)
the longest delay of the broker's event loop. Scenarios: 50 devices, 100 devices, and 100 devices with two
stalled subscribers (raw sockets that subscribe — one at QoS 0, one at QoS 1 — and never read) for 60 s: broker
RSS growth, and what the healthy subscriber got meanwhile.

Goals: 50 devices p99 < 10 ms, nothing lost; 100 devices p99 < 50 ms, no collapse; RSS growth < 50 MB with the
stalled subscribers. The load average is printed with each row: the machine may be shared, so compare brokers
within one run, and prefer the rows measured at the lowest load.

Brokers:
- ``amqtt``: the simulator's EmbeddedBroker: hardened amqtt in a child process of its own, on uvloop when
  installed (``--loop asyncio``: asyncio's loop).
- ``amqtt+core``: the same hardened broker in a thread of a process that also runs a core-like load: a paho
  subscriber of every result that decodes each one (as the fleet watcher does) and a thread busy with Python work
  30 % of the time — what the broker would compete with in a thread of the simulator's core.
- ``mosquitto``: /usr/sbin/mosquitto through impl="mosquitto", if installed.
- ``stock``: stock amqtt 0.12.1 as the simulator embedded it before (no limits, anonymous clients; it refuses
  client publishes to ``$`` topics, so it carries ``aws/things/...`` instead — the same work). Not run stalled.

Usage: python bench/broker_capacity.py [--brokers amqtt,amqtt+core,mosquitto,stock] [--seconds 15]
                                       [--stall-seconds 60] [--scenarios 50,100,100-stalled] [--loop asyncio]
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
    last_misc = last_turn = start
    while True:
        due = start + k * period
        if due - start >= seconds:
            break
        now = time.monotonic()
        if due > now:
            loop.turn(due - now)
            last_turn = time.monotonic()
            continue
        if now - last_turn > 0.005:  # behind schedule: still read the sockets (the subscriber's, the PUBACKs)
            loop.turn(0)
            last_turn = now
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
def core_load(port: int, credentials, prefix: str, stop) -> None:
    """What a simulator core does beside its broker: a paho subscriber of every device's results, decoding each
    (as the fleet watcher does), and a thread busy with Python work 30 % of the time (status, viewer, frames)."""
    import threading

    import paho.mqtt.client as mqtt

    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-core-{os.getpid()}")
    if credentials is not None:
        watcher.username_pw_set(*credentials)
    watcher.on_connect = lambda c, u, f, rc, p=None: c.subscribe(f"{prefix}+/infer", qos=1)
    watcher.on_message = lambda c, u, msg: json.loads(msg.payload)
    watcher.connect("127.0.0.1", port)
    watcher.loop_start()

    def busy() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            while time.perf_counter() - t < 0.003:
                json.dumps({"frame": list(range(50))})
            time.sleep(0.007)

    threading.Thread(target=busy, daemon=True).start()


def host(kind: str, loop_kind: str, conn) -> None:
    """The broker's process: the simulator's EmbeddedBroker (amqtt in a thread, or the mosquitto child), or stock
    amqtt; with ``+core`` a core-like load in the same process. Answers "stats" and "stop" on ``conn``."""
    import threading

    sys.path.insert(0, str(ROOT))
    from simulator.broker.embedded import EmbeddedBroker
    from simulator.broker.settings import BrokerSettings

    if loop_kind == "asyncio":
        os.environ["DEEPLENS_SIM_BROKER_LOOP"] = "asyncio"  # read by the broker (and its child process)
    name = kind.removesuffix("+core")
    stop = threading.Event()
    lag = {"max": 0.0}
    loop = None
    if name == "stock":
        loop, stopper, port, credentials, prefix, pid = _stock_amqtt()
        stats_of = None
    elif kind == "amqtt+core":  # the hardened broker in a thread of this process, beside the core-like load
        from simulator.broker.acl import Policy
        from simulator.broker.loop import BrokerThread
        from simulator.broker.startup import listen

        settings = BrokerSettings(port=0)
        policy = Policy(None)
        credentials = policy.issue_credentials("bench-devices", "instructor")
        sockets = listen(settings)
        port, prefix, pid = sockets["default"].getsockname()[1], "$aws/things/", os.getpid()
        thread = BrokerThread("mqtt-broker")
        stats_of = thread.start(settings, policy, sockets).stats
        loop, stopper = thread.loop, thread.stop
    else:  # the simulator's EmbeddedBroker: amqtt in its own child process, or mosquitto
        broker = EmbeddedBroker.from_settings(BrokerSettings(port=0, impl=name)).start()
        port, prefix = broker.port, "$aws/things/"
        credentials = broker.issue_credentials("bench-devices", role="instructor")
        child = broker._child if name == "mosquitto" else broker._process  # noqa: SLF001 - the measured process
        pid, stopper, stats_of = child.pid, broker.stop, broker.stats
    if loop is not None:  # how late the broker's event loop runs a 10 ms timer: its own share of any latency

        async def watch() -> None:
            while True:
                t = loop.time()
                await asyncio.sleep(0.01)
                lag["max"] = max(lag["max"], loop.time() - t - 0.01)

        watcher = asyncio.run_coroutine_threadsafe(watch(), loop)
    if kind.endswith("+core"):
        core_load(port, credentials, prefix, stop)
    conn.send((port, credentials, prefix, pid))
    while True:
        command = conn.recv()
        if command == "stats":
            stats = stats_of().model_dump() if stats_of is not None else None
            conn.send((stats, lag["max"] * 1000 if loop is not None else float("nan")))
            lag["max"] = 0.0
        elif command == "stop":
            stop.set()
            if loop is not None:
                watcher.cancel()
                time.sleep(0.05)
            stopper()
            conn.send("stopped")
            return


def _stock_amqtt():
    """Stock amqtt 0.12.1 as the simulator embedded it before: no limits, anonymous clients; it refuses client
    publishes to ``$`` topics, so it carries ``aws/things/...`` instead (the same work)."""
    from amqtt.broker import Broker as AmqttBroker

    from simulator.aio_thread import LoopThread, check_port

    port = check_port("127.0.0.1", 0, "MQTT", "")
    thread, holder = LoopThread("amqtt"), {}

    async def boot() -> None:
        holder["b"] = AmqttBroker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
                                   "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                                               {"allow_anonymous": True}}})
        await holder["b"].start()

    thread.start(boot())
    return thread.loop, lambda: thread.stop(holder["b"].shutdown()), port, None, "aws/things/", os.getpid()


class Broker:
    """A broker host process, from the bench's side."""

    def __init__(self, kind: str, loop_kind: str) -> None:
        self.name = kind
        ctx = mp.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        self._proc = ctx.Process(target=host, args=(kind, loop_kind, child_conn), daemon=True)

    def start(self) -> Broker:
        self._proc.start()
        if not self._conn.poll(60):
            raise RuntimeError(f"the {self.name} broker did not start")
        self.port, self.credentials, self.prefix, self.pid = self._conn.recv()
        return self

    def stats(self) -> tuple[dict | None, float]:
        self._conn.send("stats")
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._conn.poll(20)
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()


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
    broker.stats()  # restarts the event-loop lag measure
    rss0, cpu0, t0 = _rss_mb(broker.pid), _cpu_s(broker.pid), time.monotonic()
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
    stats, lag = broker.stats()
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
            "rss0": rss0, "rss_peak": peak, "stats": stats, "lag": lag}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", default="amqtt,mosquitto", help="amqtt, amqtt+core, mosquitto, stock")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--stall-seconds", type=float, default=60.0)
    parser.add_argument("--scenarios", default="50,100,100-stalled")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop", help="amqtt's event loop")
    args = parser.parse_args()
    names = [n for n in args.brokers.split(",") if n]
    if "mosquitto" in names and not Path("/usr/sbin/mosquitto").exists():
        print("mosquitto is not installed (/usr/sbin/mosquitto): skipped")
        names.remove("mosquitto")
    sys.path.insert(0, str(ROOT))
    from simulator.broker.loop import loop_name

    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores); Python {sys.version.split()[0]}; amqtt's "
          f"event loop: {loop_name() if args.loop == 'uvloop' else 'asyncio'}")
    print(f"{'broker':<11} {'devices':>7} {'stalled':>7} {'load':>5} {'sent':>7} {'lost':>6} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'CPU %':>6} {'RSS MB':>7} {'growth':>7} {'loop lag ms':>11}")
    for scenario in args.scenarios.split(","):
        devices, stalled = int(scenario.split("-")[0]), scenario.endswith("-stalled")
        for name in names:
            if name == "stock" and stalled:
                print(f"{name:<11} {devices:>7} {'yes':>7}  not run: stock amqtt grows without bound (see above)")
                continue
            broker = Broker(name, args.loop).start()
            try:
                row = run(broker, devices, args.stall_seconds if stalled else args.seconds, stalled)
            finally:
                broker.stop()
            print(f"{row['broker']:<11} {devices:>7} {'yes' if stalled else 'no':>7} {row['load']:>5.2f} "
                  f"{row['sent']:>7} {row['lost']:>6} {row['p50']:>8.1f} {row['p99']:>8.1f} {row['max']:>8.1f} "
                  f"{row['cpu_pct']:>6.0f} {row['rss0']:>7.1f} {row['rss_peak'] - row['rss0']:>+7.1f} "
                  f"{row['lag']:>11.1f}", flush=True)
            if stalled and row["stats"] is not None:
                s = row["stats"]
                print(f"{'':<11} stalled subscribers: {s['qos0_dropped']} QoS 0 messages dropped, "
                      f"{s['slow_consumer_disconnects']} slow-consumer disconnects")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
