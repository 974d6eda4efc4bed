"""Messages per second through one rules-engine rule, against the broker's own rate in the same run.

    python bench/rules_throughput.py [--messages 3000] [--rounds 5]

Method. An embedded broker (amqtt) on 127.0.0.1, started afresh for every round (one broker carrying several
rounds slows down as they go), and a real paho publisher that sends ``--messages`` small JSON messages
(``{"seq", "value", "label", "prob"}``, about 60 bytes) to ``bench/in`` at QoS 1 (as a Lambda's greengrasssdk
does) as fast as paho lets it. Subscriptions are QoS 0 on both sides (amqtt's QoS 1 delivery to a subscriber
stalls for seconds now and then under load, which would measure amqtt's retry timer, not throughput). Two kinds
of round alternate, ``--rounds`` times each:

- broker: a paho subscriber on ``bench/in`` counts what arrives. The rate is messages received divided by the time
  from the first publish to the last arrival: what the broker alone carries for this publisher.
- rules: a RulesEngine runs one rule, ``SELECT seq, value * 2 AS doubled, label FROM 'bench/in' WHERE
  value >= 0`` with a ``republish`` to ``bench/out``; a paho subscriber on ``bench/out`` counts what arrives.
  The rate is republished messages received over the same span. Each message crosses the broker twice (in, then
  out) and is queued, evaluated and republished by the engine in between.

The engine is started before and stopped after its round (start and stop are not timed). The rule's queue holds
all the messages of a round so that the rate is the engine's processing rate, not a drop rate; drops and failed
republishes are printed anyway. The printed ratio is the median of the rules/broker ratios of the rounds.
Wall-clock figures depend on the machine and its load; the ratio is what to compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt  # noqa: E402

from simulator.broker.embedded import EmbeddedBroker  # noqa: E402
from simulator.ipc.mqtt import MqttLink  # noqa: E402
from simulator.rules import RulesEngine, load_rules  # noqa: E402

RULE = """\
rules:
  - ruleName: bench
    sql: "SELECT seq, value * 2 AS doubled, label FROM 'bench/in' WHERE value >= 0"
    awsIotSqlVersion: "2016-03-23"
    actions:
      - republish: {topic: bench/out, qos: 0}
"""


class Counter:
    """A paho subscriber that counts messages on one topic and notes when the last one came."""

    def __init__(self, port: int, topic: str) -> None:
        self.count, self.last = 0, 0.0
        self._done = threading.Event()
        self.expected = 0
        ready = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{id(self)}")
        self._client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(topic, qos=0)
        self._client.on_subscribe = lambda *a: ready.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        if not ready.wait(10):
            raise RuntimeError(f"could not subscribe to {topic}")

    def _on_message(self, client, userdata, msg) -> None:
        self.count += 1
        self.last = time.perf_counter()
        if self.count >= self.expected:
            self._done.set()

    def wait(self, expected: int, idle: float = 10.0) -> None:
        """Until ``expected`` messages came, or none came for ``idle`` seconds."""
        self.expected = expected
        seen = -1
        while not self._done.wait(idle):
            if self.count == seen:
                return
            seen = self.count

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class Publisher:
    def __init__(self, port: int) -> None:
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub")
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self.payloads = []

    def prepare(self, n: int) -> None:
        self.payloads = [json.dumps({"seq": i, "value": i % 100, "label": "person", "prob": 0.87}).encode()
                         for i in range(n)]

    def send(self) -> float:
        """Publish every prepared message; the time of the first publish."""
        t0 = time.perf_counter()
        infos = [self._client.publish("bench/in", p, qos=1) for p in self.payloads]
        for info in infos:
            info.wait_for_publish(60)
        return t0

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def broker_round(port: int, publisher: Publisher, n: int) -> tuple[float, int]:
    counter = Counter(port, "bench/in")
    try:
        t0 = publisher.send()
        counter.wait(n)
        return counter.count / (counter.last - t0), counter.count
    finally:
        counter.stop()


def rules_round(port: int, publisher: Publisher, n: int, rules_file: Path, work: Path) -> tuple[float, int, str]:
    engine = RulesEngine(load_rules([rules_file]), lambda cid: MqttLink("127.0.0.1", port, client_id=cid, qos=0),
                         thing_name="bench", work_dir=work, queue_size=n + 10, status_interval=3600)
    engine.start()
    counter = Counter(port, "bench/out")
    try:
        t0 = publisher.send()
        counter.wait(n)
        (st,) = engine.status()
        notes = f"dropped {st.dropped}, failed republishes {st.actions_failed}"
        return counter.count / (counter.last - t0), counter.count, notes
    finally:
        counter.stop()
        engine.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        rules_file = Path(tmp) / "rules.yaml"
        rules_file.write_text(RULE)
        for i in range(args.rounds):
            rates = {}
            for kind in ("broker", "rules"):
                broker = EmbeddedBroker("127.0.0.1", 0).start()
                publisher = Publisher(broker.port)
                publisher.prepare(args.messages)
                try:
                    if kind == "broker":
                        rates[kind] = broker_round(broker.port, publisher, args.messages) + ("",)
                    else:
                        rates[kind] = rules_round(broker.port, publisher, args.messages, rules_file, Path(tmp))
                finally:
                    publisher.stop()
                    broker.stop()
            (b_rate, b_count, _), (r_rate, r_count, notes) = rates["broker"], rates["rules"]
            ratios.append(r_rate / b_rate)
            print(f"round {i + 1}: broker {b_rate:7.0f} msg/s ({b_count}/{args.messages})   "
                  f"rule+republish {r_rate:7.0f} msg/s ({r_count}/{args.messages}; {notes})   "
                  f"ratio {r_rate / b_rate:.2f}")
    print(f"rules engine / broker alone, median of {args.rounds} rounds: {statistics.median(ratios):.2f} "
          f"(rounds {min(ratios):.2f}-{max(ratios):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
