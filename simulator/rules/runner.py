"""One rule at work: a bounded queue fed by the MQTT thread, and a worker thread that evaluates the SQL and runs
the actions (and the errorAction, with AWS's error payload, when some fail)."""

from __future__ import annotations

import base64
import contextlib
import logging
import queue
import threading
from typing import Any

from simulator.rules.actions import ActionError, RuleAction, Services, build_action
from simulator.rules.plan import Rule
from simulator.rules.sql import NO_MATCH, EvalError, output_bytes
from simulator.rules.sql.message import Message
from simulator.rules.status import RuleCounters, RuleStatus

log = logging.getLogger("rules")
_STOP = object()


def error_payload(rule_name: str, m: Message, failures: list[dict[str, str]]) -> dict[str, Any]:
    """What AWS IoT gives an errorAction: one message per rule and message, listing every failed action."""
    return {"ruleName": rule_name, "topic": m.topic, "cloudwatchTraceId": m.trace_id, "clientId": m.client_id,
            "base64OriginalPayload": base64.b64encode(m.payload).decode("ascii"), "failures": failures}


class RuleRunner:
    def __init__(self, rule: Rule, services: Services, queue_size: int) -> None:
        self.rule = rule
        self.actions: list[RuleAction] = [build_action(p, services) for p in rule.actions]
        self.error_action = build_action(rule.error_action, services) if rule.error_action else None
        self.counters = RuleCounters([(a.kind, a.target()) for a in self.actions],
                                     (self.error_action.kind, self.error_action.target()) if self.error_action
                                     else None)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def offer(self, m: Message) -> None:
        """Queue a message without ever blocking the caller (the MQTT network thread); count it if dropped."""
        try:
            self._queue.put_nowait(m)
            queued = True
        except queue.Full:
            queued = False
        self.counters.on_received(queued)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"rule-{self.rule.name}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            m = self._queue.get()
            if m is _STOP or self._stopping.is_set():
                break
            try:
                self.process(m)
            except Exception:  # noqa: BLE001 - a bug must not end the rule's worker
                log.exception("rule %s: unexpected failure", self.rule.name)

    def process(self, m: Message) -> None:
        """Evaluate the rule on one message and run its actions."""
        name = self.rule.name
        try:
            output = self.rule.query.evaluate(m)
        except EvalError as exc:
            self.counters.on_error(str(exc))
            log.warning("rule %s: message on %s: %s", name, m.topic, exc)
            return
        if output is NO_MATCH:
            return
        self.counters.on_matched(output)
        payload = output_bytes(output)
        failures = []
        for i, action in enumerate(self.actions):
            error, resource = self._run(action, m, output, payload)
            self.counters.on_action(i, error)
            if error is not None:
                log.warning("rule %s: %s action failed: %s", name, action.kind, error)
                failures.append({"failedAction": action.failed_action, "failedResource": resource,
                                 "errorMessage": error})
        if failures and self.error_action is not None:
            doc = error_payload(name, m, failures)
            error, _ = self._run(self.error_action, m, doc, output_bytes(doc))
            self.counters.on_action(None, error)
            if error is not None:
                log.error("rule %s: errorAction (%s) failed too: %s", name, self.error_action.kind, error)

    @staticmethod
    def _run(action: RuleAction, m: Message, output: Any, payload: bytes) -> tuple[str | None, str]:
        """(None, "") on success, else (error message, failed resource)."""
        try:
            action.run(m, output, payload)
            return None, ""
        except ActionError as exc:
            return str(exc), exc.resource or action.target()
        except Exception as exc:  # noqa: BLE001 - reported like any action failure
            log.exception("%s action raised", action.kind)
            return f"{type(exc).__name__}: {exc}", action.target()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def status(self) -> RuleStatus:
        q = self.rule.query
        return self.counters.snapshot(name=self.rule.name, source=self.rule.where, enabled=self.rule.enabled,
                                      sql=q.sql, topic_filter=q.topic_filter, queued=self.queued)

    def signal_stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(queue.Full):  # when full, the worker sees the event after its current message
            self._queue.put_nowait(_STOP)

    def join(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("rule %s: worker still busy after %g s", self.rule.name, timeout)

    def close(self) -> None:
        for action in (*self.actions, *([self.error_action] if self.error_action else [])):
            action.close()

    def stop(self) -> None:
        self.signal_stop()
        self.join()
        self.close()
