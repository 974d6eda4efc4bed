"""The embedded MQTT broker: amqtt, hardened (hardened.py), in a child process of its own (process.py; on uvloop
when installed), bound to 127.0.0.1 by default.

    broker = EmbeddedBroker.from_settings(BrokerSettings(port=0), hosted_things=["deeplens_x"]).start()
    user, password = broker.issue_credentials("deeplens_x")   # for the core's and the Lambda's connections
    broker.port, broker.tls_port, broker.stats()
    broker.stop()

``EmbeddedBroker(host, port)`` is the same with default settings. Its limits, the roles of its users and how it
treats AWS IoT Core's ``$aws/`` topics are in settings.py and acl.py. With ``impl="mosquitto"`` the same roles and
limits are given to a mosquitto child process instead (mosquitto.py). Where a child process cannot inherit the
listening sockets (Windows) amqtt runs in a thread of this process (loop.BrokerThread).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

from simulator.broker.acl import Policy
from simulator.broker.loop import BrokerThread
from simulator.broker.passwords import Role
from simulator.broker.process import BrokerProcess
from simulator.broker.settings import BrokerSettings
from simulator.broker.startup import check_settings, check_tls, fit_connections, listen
from simulator.broker.stats import BrokerStats

__all__ = ["EmbeddedBroker", "fit_connections"]

log = logging.getLogger(__name__)


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883, *, settings: BrokerSettings | None = None,
                 hosted_things: Iterable[str] = ()) -> None:
        self.settings = settings if settings is not None else BrokerSettings(host=host, port=port)
        self.host = self.settings.host
        self.port: int = self.settings.port or 0
        self.tls_port: int | None = None
        self.policy = Policy(check_settings(self.settings), tuple(hosted_things))
        self._process: BrokerProcess | None = None  # amqtt's child process
        self._thread: BrokerThread | None = None  # amqtt in a thread, where there is no child process
        self._broker: Any = None  # the HardenedBroker of the thread
        self._child: Any = None  # the mosquitto child process, for impl="mosquitto"

    @classmethod
    def from_settings(cls, settings: BrokerSettings, hosted_things: Iterable[str] = ()) -> EmbeddedBroker:
        return cls(settings=settings, hosted_things=hosted_things)

    def start(self, timeout: float = 10.0, wait: bool = True) -> EmbeddedBroker:
        """Listen and start serving. With ``wait=False`` amqtt's child process may still be starting when this
        returns (clients can connect already: their connections wait in the listening socket's backlog); call
        :meth:`wait_ready` to know it serves. Credentials issued before ``start`` go to the child with its
        configuration."""
        if self.settings.impl == "mosquitto":
            from simulator.broker.mosquitto import MosquittoBroker

            self._child = MosquittoBroker(self.settings, self.policy).start(timeout)
            self.port, self.tls_port = self._child.port, self._child.tls_port
            return self
        check_tls(self.settings)
        sockets = listen(self.settings)
        ports = [int(sock.getsockname()[1]) for sock in sockets.values()]
        if self.settings.port is not None:
            self.port = ports[0]
        if self.settings.tls_port is not None:
            self.tls_port = ports[-1]
        if sys.platform == "win32":
            settings = self.settings.model_copy(update={"max_connections": fit_connections(
                self.settings.max_connections)})
            self._thread = BrokerThread("mqtt-broker")
            self._broker = self._thread.start(settings, self.policy, sockets, timeout)
            where = "a thread"
        else:
            self._process = BrokerProcess().start(self.settings, self.policy, sockets, timeout, wait=wait)
            where = f"process {self._process.pid}" + (f", {self._process.info.get('loop')}" if wait else "")
        log.info("MQTT broker (amqtt, %s) listening on %s (%s)", where,
                 ", ".join(f"{self.host}:{port}" for port in ports) + (" (the last over TLS)" if self.tls_port else ""),
                 "password file" if self.policy.passwords is not None else "anonymous clients on loopback")
        return self

    def wait_ready(self) -> EmbeddedBroker:
        """Return once the broker serves (at once unless ``start(wait=False)``); raises if it failed to start."""
        if self._process is not None:
            self._process.wait_ready()
        return self

    def stop(self) -> None:
        if self._child is not None:
            child, self._child = self._child, None
            child.stop()
        if self._process is not None:
            process, self._process = self._process, None
            process.stop()
        if self._thread is not None:
            thread, self._thread, self._broker = self._thread, None, None
            thread.stop()

    # -- users and things -----------------------------------------------------------------------------------
    def issue_credentials(self, name: str, role: Role = "thing") -> tuple[str, str]:
        """(user name, password) valid until the broker stops: for the core's and the Lambda's connections of
        a hosted thing (role ``thing``: ``name`` is the thing name, which becomes hosted), or for a service that
        publishes and subscribes anywhere, such as the rules engine (role ``instructor``)."""
        credentials = self.policy.issue_credentials(name, role)
        if self._child is not None:
            self._child.reload()
        if self._process is not None:
            self._process.issue(name, role, credentials[1])
        return credentials

    def host_thing(self, thing: str) -> None:
        """From now on only ``thing``'s own connections (and instructors) may publish to its topics."""
        self.policy.host_thing(thing)
        if self._child is not None:
            self._child.reload()
        if self._process is not None:
            self._process.host(thing)

    def stats(self) -> BrokerStats:
        if self._child is not None:
            return self._child.stats()
        if self._process is not None:
            return self._process.stats()
        broker = self._broker
        return broker.stats() if broker is not None else BrokerStats(impl=self.settings.impl)
