"""Running the amqtt broker: its event loop (uvloop when it is installed, else asyncio's), ``serve`` (start a
HardenedBroker on bound sockets, shut it down when told), the limits on amqtt's own log lines, and
``BrokerThread`` — the broker in a thread of the calling process, where a child process cannot be used (no file
descriptor passing) and for measuring what a thread costs (bench/broker_capacity.py).

    thread = BrokerThread("mqtt-broker")
    broker = thread.start(settings, policy, sockets, timeout)   # a started HardenedBroker
    thread.stop()                                               # shut down, join the thread
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from simulator.broker.acl import Policy
from simulator.broker.logfilter import LogThrottle, RateLimitFilter
from simulator.broker.settings import BrokerSettings
from simulator.broker.startup import amqtt_config
from simulator.errors import SimulatorError

log = logging.getLogger(__name__)

AMQTT_LOGGERS = ("amqtt.broker", "amqtt.mqtt.protocol.handler", "amqtt.adapters", "amqtt.session",
                 "amqtt.broker.plugins", "amqtt.plugins.manager", "transitions.core")
_limited: set[str] = set()
LOOP_ENV = "DEEPLENS_SIM_BROKER_LOOP"


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's event loop if it is installed (faster sockets), else (or with ``DEEPLENS_SIM_BROKER_LOOP=asyncio``)
    asyncio's."""
    if os.environ.get(LOOP_ENV) == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def loop_name() -> str:
    return "uvloop" if loop_factory() is not asyncio.new_event_loop else "asyncio"


def limit_amqtt_logs(interval: float) -> None:
    """amqtt logs each failing client, some with a traceback: each kind of line at most once per ``interval``,
    with a count of those held back, and no tracebacks (a filter on each of amqtt's own loggers, set once)."""
    for name in AMQTT_LOGGERS:
        if name not in _limited:
            _limited.add(name)
            logging.getLogger(name).addFilter(RateLimitFilter(None, interval=interval))


def warn_if_amqtt_changed() -> None:
    from simulator.broker.amqtt_review import changes

    changed = changes(sources=False)
    if changed:
        log.warning("the MQTT broker's hardening was reviewed against another amqtt: %s", ", ".join(changed))


async def serve(settings: BrokerSettings, policy: Policy, sockets: dict[str, socket.socket],
                started: Callable[[Any], None], stopped: Awaitable[Any]) -> None:
    """Start a HardenedBroker on ``sockets``, call ``started(broker)``, serve until ``stopped``, shut down."""
    from simulator.broker.hardened import HardenedBroker

    warn_if_amqtt_changed()
    limit_amqtt_logs(settings.log_interval)
    throttle = LogThrottle(logging.getLogger("simulator.broker"), settings.log_interval)
    broker = HardenedBroker(amqtt_config(settings, sockets), settings, policy, sockets, throttle)
    await broker.start()
    try:
        started(broker)
        await stopped
    finally:
        await broker.shutdown()


class BrokerThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._result: Any = None
        self._error: BaseException | None = None

    def start(self, settings: BrokerSettings, policy: Policy, sockets: dict[str, socket.socket],
              timeout: float = 10.0) -> Any:
        """Start a HardenedBroker on ``sockets`` in a new thread; the broker, once it serves."""
        self._thread = threading.Thread(target=self._run, args=(settings, policy, sockets), name=self.name,
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise SimulatorError(f"the MQTT broker did not start within {timeout:g} s")
        if self._error is not None:
            error, self._error = self._error, None
            self._thread.join(timeout)
            for sock in sockets.values():
                sock.close()
            raise error
        return self._result

    def _run(self, settings: BrokerSettings, policy: Policy, sockets: dict[str, socket.socket]) -> None:
        loop = self.loop = loop_factory()()
        asyncio.set_event_loop(loop)
        self._stopped = asyncio.Event()

        def started(broker: Any) -> None:
            self._result = broker
            self._ready.set()

        try:
            loop.run_until_complete(serve(settings, policy, sockets, started, self._stopped.wait()))
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            self._error = exc
            self._ready.set()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the broker down and join the thread. Safe to call twice."""
        loop, stopped = self.loop, self._stopped
        if loop is None or stopped is None or self._thread is None or not self._thread.is_alive():
            return
        loop.call_soon_threadsafe(stopped.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the MQTT broker did not stop within %g s", timeout)
        self.loop = None
