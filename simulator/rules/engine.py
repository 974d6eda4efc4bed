"""The rules engine: subscribes like any MQTT client and runs each rule on its own worker.

One MQTT link per distinct FROM topic filter (brokers deliver a message once per matching subscription of a
client, so one link per filter is what makes a message reach each rule exactly once), all made by the
``link_factory`` the core passes in (it decides TLS and credentials). A link's thread only queues: each rule has
a bounded queue and a worker thread, so a slow action delays only its own rule and never the broker; what a full
queue cannot take is dropped and counted. Republished messages and the status go out through publish links of
their own. ``start()`` returns once the broker has taken every subscription (each link receives a probe message
of its own on ``deeplens/<thing>/rules/subscribed/...``). Every few seconds, when it changed, the list of
``RuleStatus`` is published on ``deeplens/<thing>/rules``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.rules.actions import ActionError, LambdaPool, LocalCloud, Services
from simulator.rules.errors import RulesError
from simulator.rules.loader import load_rules
from simulator.rules.plan import RuleSet
from simulator.rules.runner import RuleRunner
from simulator.rules.sql.message import Message
from simulator.rules.status import RuleStatus

if TYPE_CHECKING:
    from simulator.ipc.mqtt import MqttLink

log = logging.getLogger("rules")

LinkFactory = Callable[[str], "MqttLink"]


def rules_topic(thing: str) -> str:
    """Where the engine publishes its rules' status (a JSON list of RuleStatus)."""
    return f"deeplens/{thing}/rules"


class RulesEngine:
    """Run a RuleSet against an MQTT broker.

    ``env`` is the AWS environment of the actions and of the Lambda handlers (``AWS_ENDPOINT_URL``, keys,
    region, ``DEEPLENS_SIM_CLOUD=local``...), laid over this process's environment. ``work_dir`` is where the
    relative paths of ``file`` and ``sqlite`` actions land (default: the current directory).
    """

    def __init__(self, ruleset: RuleSet, link_factory: LinkFactory, env: Mapping[str, str] | None = None,
                 thing_name: str = "deeplens", work_dir: Path | None = None, queue_size: int = 1000,
                 status_interval: float = 2.0, connect_timeout: float = 10.0) -> None:
        self.ruleset = ruleset
        self.thing_name = thing_name
        self.env = {**os.environ, **(env or {})}
        self.work_dir = Path(work_dir) if work_dir is not None else Path.cwd()
        self.queue_size = queue_size
        self.status_interval = status_interval
        self.connect_timeout = connect_timeout
        self.last_reload_error: str | None = None
        self._link_factory = link_factory
        self._lambdas = LambdaPool(self.env)
        self._services = Services(self.env, self.work_dir, self._publish, LocalCloud(self.env), self._lambdas)
        self._runners: dict[str, RuleRunner] = {}
        self._routes: dict[str, list[RuleRunner]] = {}
        self._links: dict[str, MqttLink] = {}
        self._publishers: dict[int, MqttLink] = {}
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._status_thread: threading.Thread | None = None
        self._last_published = ""
        self._probe_prefix = f"{rules_topic(thing_name)}/subscribed/"

    # -- MQTT ------------------------------------------------------------------------------------------------
    def _new_link(self, role: str) -> MqttLink:
        return self._link_factory(f"{self.thing_name}-rules-{role}")

    def _publisher(self, qos: int) -> MqttLink:
        with self._lock:
            if self._stopped.is_set():
                raise RulesError("the rules engine is stopped")
            if qos not in self._publishers:
                link = self._new_link(f"pub{qos}")
                link.qos = qos
                self._start_link(link)
                self._publishers[qos] = link
            return self._publishers[qos]

    def _publish(self, topic: str, payload: bytes, qos: int) -> bool:
        if self._stopped.is_set():
            raise ActionError(f"not published to '{topic}': the rules engine is stopping", topic)
        return self._publisher(qos).publish(topic, payload)

    def _start_link(self, link: MqttLink) -> None:
        try:
            link.start(timeout=self.connect_timeout)
        except ConnectionError as exc:
            raise RulesError(f"the rules engine cannot connect to the MQTT broker: {exc}") from None

    def _subscribe(self, topic_filter: str) -> MqttLink:
        """A link subscribed to ``topic_filter``, returned once the broker has taken the subscription: the link
        then publishes to a probe topic it subscribed to after ``topic_filter`` until the probe comes back (a
        broker takes one client's subscriptions in order, but may handle a publish before a subscription made
        just before it), so a message published after ``start()`` returns reaches the rules."""
        link = self._new_link(f"sub{len(self._links)}")
        link.subscribe(topic_filter, partial(self._deliver, topic_filter))
        probe, ready = f"{self._probe_prefix}{secrets.token_hex(4)}", threading.Event()
        link.subscribe(probe, lambda _t, _p: ready.set())
        self._start_link(link)
        deadline = time.monotonic() + self.connect_timeout
        while not ready.is_set() and time.monotonic() < deadline:
            link.publish(probe, json.dumps({"subscribed": topic_filter}).encode())
            ready.wait(0.1)
        if not ready.is_set():
            log.warning("rules engine: the broker did not confirm the subscription to %s", topic_filter)
        return link

    def _deliver(self, topic_filter: str, topic: str, payload: bytes) -> None:
        runners = self._routes.get(topic_filter, ())
        if runners and not topic.startswith(self._probe_prefix):
            m = Message(topic, payload)
            for runner in runners:
                runner.offer(m)

    # -- rules -----------------------------------------------------------------------------------------------
    def _apply(self, ruleset: RuleSet) -> None:
        """Run ``ruleset``: unchanged rules keep their worker and counters, others start afresh."""
        with self._lock:
            old = self._runners
            runners: dict[str, RuleRunner] = {}
            for rule in ruleset.rules:
                prev = old.get(rule.name)
                if prev is not None and prev.rule.fingerprint == rule.fingerprint:
                    runners[rule.name] = prev
                    continue
                runner = RuleRunner(rule, self._services, self.queue_size)
                if rule.enabled:
                    runner.start()
                runners[rule.name] = runner
            routes: dict[str, list[RuleRunner]] = {}
            for runner in runners.values():
                if runner.rule.enabled:
                    routes.setdefault(runner.rule.query.topic_filter, []).append(runner)
            self.ruleset, self._runners, self._routes = ruleset, runners, routes
            for topic_filter in routes:
                if topic_filter not in self._links:
                    self._links[topic_filter] = self._subscribe(topic_filter)
            for topic_filter in [f for f in self._links if f not in routes]:
                self._links.pop(topic_filter).stop()
            retired = [r for name, r in old.items() if runners.get(name) is not r]
        for runner in retired:  # a busy retired worker finishes its message in the background
            runner.signal_stop()
            threading.Thread(target=runner.stop, name=f"retire-{runner.rule.name}", daemon=True).start()

    def start(self) -> RulesEngine:
        """Subscribe and start every enabled rule; RulesError if the broker cannot be reached."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._apply(self.ruleset)
        except RulesError:
            self.stop()
            raise
        self._status_thread = threading.Thread(target=self._status_loop, name="rules-status", daemon=True)
        self._status_thread.start()
        log.info("rules engine: %d rule(s) from %s", len(self.ruleset),
                 ", ".join(str(p) for p in self.ruleset.files) or "no file")
        return self

    def reload(self) -> RuleSet:
        """Read the rules files again. On an error the rules already running go on; RulesError says why (and
        ``last_reload_error`` keeps it)."""
        try:
            ruleset = load_rules(self.ruleset.files)
        except RulesError as exc:
            self.last_reload_error = str(exc)
            log.error("rules not reloaded, the previous rules keep running: %s", exc)
            raise
        self._apply(ruleset)
        self.last_reload_error = None
        log.info("rules reloaded: %d rule(s)", len(ruleset))
        return ruleset

    def status(self) -> list[RuleStatus]:
        with self._lock:
            runners = list(self._runners.values())
        return [r.status() for r in runners]

    def _status_loop(self) -> None:
        while not self._stopped.wait(self.status_interval):
            self.publish_status()

    def publish_status(self) -> bool:
        """Publish the status list if it changed since the last time; True if it was published."""
        text = json.dumps([s.model_dump() for s in self.status()], separators=(",", ":"))
        if text == self._last_published:
            return False
        try:
            sent = self._publisher(1).publish(rules_topic(self.thing_name), text.encode("utf-8"))
        except RulesError as exc:
            log.warning("rules status not published: %s", exc)
            return False
        if sent:
            self._last_published = text
        return sent

    def stop(self) -> None:
        """Unsubscribe, let each worker finish its current message, end Lambda processes, close sinks."""
        self._stopped.set()
        with self._lock:
            links, self._links = list(self._links.values()), {}
            runners = list(self._runners.values())
            self._routes = {}
        for link in links:
            link.stop()
        for runner in runners:
            runner.signal_stop()
        self._lambdas.close()
        for runner in runners:
            runner.join()
            runner.close()
        if self._status_thread is not None:
            self._status_thread.join(timeout=5)
        with self._lock:
            publishers, self._publishers = list(self._publishers.values()), {}
        for link in publishers:
            link.stop()
