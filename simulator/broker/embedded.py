"""The embedded MQTT broker: MQTT 3.1.1 on an event loop in a thread of the core process, bound to 127.0.0.1.

    broker = EmbeddedBroker.from_settings(BrokerSettings(port=0), hosted_things=["deeplens_x"]).start()
    user, password = broker.issue_credentials("deeplens_x")   # for the core's and the Lambda's connections
    broker.port, broker.tls_port, broker.stats()
    broker.stop()

``EmbeddedBroker(host, port)`` is the same with default settings. Its limits, the roles of its users and how it
treats AWS IoT Core's ``$aws/`` topics are in settings.py and acl.py. With ``impl="mosquitto"`` the same roles and
limits are given to a mosquitto child process instead (mosquitto.py).
"""

from __future__ import annotations

import logging
import socket
import ssl
import sys
from collections.abc import Iterable
from typing import Any

from simulator.aio_thread import LoopThread, listen_socket
from simulator.broker.acl import Policy
from simulator.broker.passwords import PasswordFile, Role
from simulator.broker.server import BrokerCore
from simulator.broker.settings import BrokerSettings
from simulator.broker.stats import BrokerStats
from simulator.errors import ConfigError

log = logging.getLogger(__name__)

PORT_HINT = ("stop the other broker, or choose another port with --mqtt-port (0 picks a free one), "
             "or use it with --broker")
FD_RESERVE = 256  # file descriptors kept for everything else in the process (viewer, camera, files)


def check_settings(settings: BrokerSettings) -> PasswordFile | None:
    """The password file, if any; a ConfigError for a setting the broker cannot start with."""
    if settings.password_file is None:
        if not settings.loopback:
            raise ConfigError(f"the MQTT broker would listen on {settings.host} without a password file",
                              hint="create one with 'python main.py users add NAME' and give it to the broker, "
                                   "or listen on 127.0.0.1 only")
        return None
    return PasswordFile.load(settings.password_file)


def tls_context(settings: BrokerSettings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the broker's TLS certificate {settings.tls_cert} / key {settings.tls_key}: "
                          f"{exc}", hint="give a PEM certificate and its private key") from None
    return context


def fit_connections(wanted: int) -> int:
    """Raise the open-files limit to fit ``wanted`` connections (up to the hard limit); what fits."""
    if sys.platform == "win32":
        return wanted
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < need:
        fitted = max(16, soft - FD_RESERVE)
        log.warning("MQTT broker: max_connections lowered from %d to %d (open-files limit %d)", wanted, fitted, soft)
        return fitted
    return wanted


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883, *, settings: BrokerSettings | None = None,
                 hosted_things: Iterable[str] = ()) -> None:
        self.settings = settings if settings is not None else BrokerSettings(host=host, port=port)
        self.host = self.settings.host
        self.port: int = self.settings.port or 0
        self.tls_port: int | None = None
        self.policy = Policy(check_settings(self.settings), tuple(hosted_things))
        self._core: BrokerCore | None = None
        self._child: Any = None  # the mosquitto child process, for impl="mosquitto"
        self._loop = LoopThread("mqtt-broker")

    @classmethod
    def from_settings(cls, settings: BrokerSettings, hosted_things: Iterable[str] = ()) -> EmbeddedBroker:
        return cls(settings=settings, hosted_things=hosted_things)

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        if self.settings.impl == "mosquitto":
            from simulator.broker.mosquitto import MosquittoBroker

            self._child = MosquittoBroker(self.settings, self.policy).start(timeout)
            self.port, self.tls_port = self._child.port, self._child.tls_port
            return self
        settings = self.settings.model_copy(update={"max_connections": fit_connections(self.settings.max_connections)})
        context = tls_context(settings)
        sockets: list[tuple[socket.socket, ssl.SSLContext | None]] = []
        try:
            if settings.port is not None:
                sockets.append((listen_socket(settings.host, settings.port, "MQTT", PORT_HINT), None))
            if settings.tls_port is not None:
                sockets.append((listen_socket(settings.host, settings.tls_port, "MQTT over TLS", PORT_HINT), context))
        except BaseException:
            for sock, _ in sockets:
                sock.close()
            raise
        ports = [int(sock.getsockname()[1]) for sock, _ in sockets]
        if settings.port is not None:
            self.port = ports[0]
        if settings.tls_port is not None:
            self.tls_port = ports[-1]
        core = self._core = BrokerCore(settings, self.policy)

        async def boot() -> None:
            for sock, tls in sockets:
                await core.serve(sock, tls)

        self._loop.start(boot(), timeout)
        where = ", ".join(f"{self.host}:{port}{' (TLS)' if tls else ''}"
                          for port, (_, tls) in zip(ports, sockets, strict=True))
        log.info("MQTT broker listening on %s (%s)", where,
                 "password file" if self.policy.passwords is not None else "anonymous clients on loopback")
        return self

    def stop(self) -> None:
        if self._child is not None:
            child, self._child = self._child, None
            child.stop()
            return
        core, self._core = self._core, None
        self._loop.stop(core.close() if core is not None else None)

    # -- users and things -----------------------------------------------------------------------------------
    def issue_credentials(self, name: str, role: Role = "thing") -> tuple[str, str]:
        """(user name, password) valid until the broker stops: for the core's and the Lambda's connections of
        a hosted thing (role ``thing``: ``name`` is the thing name, which becomes hosted), or for a service that
        publishes and subscribes anywhere, such as the rules engine (role ``instructor``)."""
        credentials = self.policy.issue_credentials(name, role)
        if self._child is not None:
            self._child.reload()
        return credentials

    def host_thing(self, thing: str) -> None:
        """From now on only ``thing``'s own connections (and instructors) may publish to its topics."""
        self.policy.host_thing(thing)
        if self._child is not None:
            self._child.reload()

    def stats(self) -> BrokerStats:
        if self._child is not None:
            return self._child.stats()
        core = self._core
        return core.stats() if core is not None else BrokerStats(impl=self.settings.impl)
