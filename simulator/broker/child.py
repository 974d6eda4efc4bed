"""The amqtt broker's own process: ``python -m simulator.broker.child`` (started by process.BrokerProcess).

It inherits the listening sockets (their file descriptors), reads one JSON line on standard input — settings,
hosted things, credentials already issued, the sockets' descriptors, the log level — and answers it with
``{"ready": true, ...}`` once it serves (or ``{"error": ..., "hint": ...}``). Then each line it reads is one
request, answered with one line:

    {"op": "issue", "name": N, "role": R, "password": P}  ->  {"ok": true}
    {"op": "host", "thing": T}                            ->  {"ok": true}
    {"op": "stats"}                                       ->  {"stats": {...BrokerStats...}}
    {"op": "stop"}                                        ->  {"ok": true}, then it shuts down and exits

The end of standard input (the parent has gone) shuts it down too. Log records go to standard error as JSON
lines (``{"name", "level", "msg"}``), rate-limited; the parent logs them again through its own loggers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from typing import Any, TextIO

from simulator.broker.acl import Policy
from simulator.broker.logfilter import RateLimitFilter
from simulator.broker.loop import loop_factory, loop_name, serve
from simulator.broker.settings import BrokerSettings
from simulator.broker.startup import check_settings, fit_connections
from simulator.errors import SimulatorError


class JsonLines(logging.Formatter):
    """A log record as one JSON line, for the parent to log again."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return json.dumps({"name": record.name, "level": record.levelno, "msg": text})


_answers: list[TextIO] = []  # the parent's pipe: standard output as it was (fd 1 itself goes to standard error)


def reply(message: dict[str, Any]) -> None:
    out = _answers[0] if _answers else sys.stdout
    out.write(json.dumps(message) + "\n")
    out.flush()


def keep_stdout_for_answers() -> None:
    """Answers go to the original standard output; anything else written there goes to standard error."""
    _answers.append(os.fdopen(os.dup(1), "w", encoding="utf-8"))
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def setup(config: dict[str, Any]) -> tuple[BrokerSettings, Policy, dict[str, socket.socket]]:
    level = config.get("log_level", "INFO")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    handler.addFilter(RateLimitFilter(("amqtt", "transitions", "asyncio"), interval=60))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(level)
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.WARNING if level != "DEBUG" else logging.INFO)
    settings = BrokerSettings.model_validate(config["settings"])
    settings = settings.model_copy(update={"max_connections": fit_connections(settings.max_connections)})
    policy = Policy(check_settings(settings), config.get("hosted", []))
    for name, (password, role) in config.get("issued", {}).items():
        policy.add_issued(name, password, role)
    sockets = {}
    for name, fd in config["fds"].items():
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        sockets[name] = sock
    return settings, policy, sockets


async def control(broker: Any, policy: Policy) -> None:
    """Answer the parent's requests until it says stop or goes away."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        request = json.loads(line)
        op = request.get("op")
        if op == "stats":
            reply({"stats": broker.stats().model_dump()})
        elif op == "issue":
            policy.add_issued(request["name"], request["password"], request["role"])
            reply({"ok": True})
        elif op == "host":
            policy.host_thing(request["thing"])
            reply({"ok": True})
        elif op == "stop":
            reply({"ok": True})
            return
        else:
            reply({"error": f"unknown request {op!r}"})


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this process
    keep_stdout_for_answers()
    config = json.loads(sys.stdin.readline() or "{}")
    try:
        settings, policy, sockets = setup(config)
    except SimulatorError as exc:
        reply({"error": exc.message, "hint": exc.hint, "config": True})
        return 2
    loop = loop_factory()()
    asyncio.set_event_loop(loop)
    holder: dict[str, Any] = {}
    stopping = loop.create_future()

    def started(broker: Any) -> None:
        holder["broker"] = broker
        reply({"ready": True, "loop": loop_name(), "amqtt": sys.modules["amqtt"].__version__})
        task = loop.create_task(control(broker, policy))
        task.add_done_callback(stop)

    def stop(_: Any) -> None:
        if not stopping.done():
            stopping.set_result(None)

    try:
        loop.run_until_complete(serve(settings, policy, sockets, started, stopping))
    except Exception as exc:  # noqa: BLE001 - told to the parent, which raises it
        reply({"error": f"the MQTT broker did not start: {exc}", "hint": None})
        return 1
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
