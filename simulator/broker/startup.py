"""What the amqtt broker checks and prepares before it serves: its settings and TLS files, the open-files limit,
the listening sockets (bound by the process that starts the broker, so that a taken port is a clear error there)
and amqtt's configuration."""

from __future__ import annotations

import logging
import socket
import ssl
import sys
from typing import Any

from simulator.aio_thread import listen_socket
from simulator.broker.passwords import PasswordFile
from simulator.broker.settings import BrokerSettings
from simulator.errors import ConfigError

log = logging.getLogger(__name__)

PORT_HINT = ("stop the other broker, or choose another port with --mqtt-port (0 picks a free one), "
             "or use it with --broker")
FD_RESERVE = 256  # file descriptors kept for everything else in the process


def check_settings(settings: BrokerSettings) -> PasswordFile | None:
    """The password file, if any; a ConfigError for a setting the broker cannot start with."""
    if settings.password_file is None:
        if not settings.loopback:
            raise ConfigError(f"the MQTT broker would listen on {settings.host} without a password file",
                              hint="create one with 'python main.py users add NAME' and give it to the broker, "
                                   "or listen on 127.0.0.1 only")
        return None
    return PasswordFile.load(settings.password_file)


def check_tls(settings: BrokerSettings) -> None:
    """A ConfigError if the TLS certificate and key cannot be loaded (amqtt loads them again at start)."""
    if settings.tls_cert is None or settings.tls_key is None:
        return
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the broker's TLS certificate {settings.tls_cert} / key {settings.tls_key}: "
                          f"{exc}", hint="give a PEM certificate and its private key") from None


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


def listen(settings: BrokerSettings) -> dict[str, socket.socket]:
    """The listening sockets, by amqtt listener name: ``default`` (plain MQTT, else TLS) and ``tls``."""
    sockets: dict[str, socket.socket] = {}
    try:
        if settings.port is not None:
            sockets["default"] = listen_socket(settings.host, settings.port, "MQTT", PORT_HINT)
        if settings.tls_port is not None:
            name = "tls" if sockets else "default"
            sockets[name] = listen_socket(settings.host, settings.tls_port, "MQTT over TLS", PORT_HINT)
    except BaseException:
        for sock in sockets.values():
            sock.close()
        raise
    return sockets


def amqtt_config(settings: BrokerSettings, sockets: dict[str, socket.socket]) -> dict[str, Any]:
    """amqtt's configuration: the listeners (on the sockets bound beforehand) and no plugins (users, roles and
    limits are hardened.py's)."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    listeners: dict[str, Any] = {}
    for name, sock in sockets.items():
        listener: dict[str, Any] = {"type": "tcp", "bind": f"{host}:{sock.getsockname()[1]}"}
        if name == "tls" or settings.port is None:
            listener.update(ssl=True, certfile=str(settings.tls_cert), keyfile=str(settings.tls_key))
        listeners[name] = listener
    return {"listeners": listeners, "plugins": {}, "session_expiry_interval": int(settings.session_expiry)}
