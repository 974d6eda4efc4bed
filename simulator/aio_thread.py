"""An asyncio event loop in a thread of its own (the embedded broker and the web viewer each run one), and
the listening-socket check both use to report a taken port clearly.

    loop = LoopThread("mqtt-broker")
    loop.start(boot())           # runs the coroutine, then the loop; raises what boot() raised
    loop.call(coro(), timeout)   # run a coroutine on the loop from another thread
    loop.stop(shutdown())        # run a last coroutine, stop the loop, join the thread
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from collections.abc import Coroutine
from typing import Any

from simulator.errors import PortInUseError, SimulatorError

log = logging.getLogger(__name__)


def listen_socket(host: str, port: int, what: str, hint: str) -> socket.socket:
    """A listening TCP socket bound to (host, port) — port 0 picks a free one. A taken port is a PortInUseError
    naming ``what`` (e.g. "MQTT") with ``hint``; an address that is not this machine's says what ``--listen`` takes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(f"{what} port {host}:{port} is already in use", hint=hint) from None
        raise PortInUseError(f"cannot listen for {what} on {host}:{port}: {exc.strerror or exc}",
                             hint="--listen takes an address of this machine: 127.0.0.1 (this machine only), "
                                  "0.0.0.0 (every network) or one of its own addresses") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def check_port(host: str, port: int, what: str, hint: str) -> int:
    """Bind once to report a taken port clearly (for servers that bind by themselves); port 0 → a free port."""
    with listen_socket(host, port, what, hint) as sock:
        return int(sock.getsockname()[1])


class LoopThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self.loop is not None and self.loop.is_running()

    def start(self, boot: Coroutine[Any, Any, Any], timeout: float = 10.0) -> None:
        """Run ``boot`` on a new loop in a new thread, then keep the loop running. Re-raises what boot raised."""
        self._thread = threading.Thread(target=self._run, args=(boot,), name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise SimulatorError(f"{self.name} did not start within {timeout:g} s")
        if self._error is not None:
            error, self._error = self._error, None
            self._thread.join(timeout=timeout)
            raise error

    def _run(self, boot: Coroutine[Any, Any, Any]) -> None:
        loop = self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(boot)
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            self._error = exc
            self._ready.set()
            loop.close()
            self.loop = None
            return
        self._ready.set()
        loop.run_forever()
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 5.0) -> Any:
        """Run ``coro`` on the loop and wait for its result (from any other thread)."""
        if self.loop is None:
            coro.close()
            raise RuntimeError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, shutdown: Coroutine[Any, Any, Any] | None = None, timeout: float = 5.0) -> None:
        """Run ``shutdown`` (errors logged), stop the loop and join the thread. Safe to call twice."""
        loop = self.loop
        if loop is None or not loop.is_running():
            if shutdown is not None:
                shutdown.close()
            return
        if shutdown is not None:
            try:
                asyncio.run_coroutine_threadsafe(shutdown, loop).result(timeout)
            except Exception as exc:  # noqa: BLE001 - stopping anyway
                log.debug("%s shutdown: %s", self.name, exc)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self.loop = None
