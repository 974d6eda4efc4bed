"""The fleet's own web server: ``/fleet`` and its API (``simulator.viewer.fleet_routes``), ``/`` leading there.

Each device of a fleet keeps its own viewer on a port of its own (the device page addresses its streams and API
from the root of its origin, and its access cookie is per origin), so this server shows only the fleet.
"""

from __future__ import annotations

import logging

from aiohttp import web

from simulator.aio_thread import LoopThread, listen_socket
from simulator.errors import PortInUseError, SimulatorError
from simulator.fleet.watcher import FleetWatcher
from simulator.viewer.access import ViewerAccess
from simulator.viewer.fleet_routes import add_fleet_routes

log = logging.getLogger(__name__)


def build_fleet_app(watcher: FleetWatcher, access: ViewerAccess) -> web.Application:
    app = web.Application(middlewares=[access.middleware()])

    async def index(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/fleet")

    app.router.add_get("/", index)
    add_fleet_routes(app, watcher)
    return app


class FleetServer:
    def __init__(self, watcher: FleetWatcher, host: str = "127.0.0.1", port: int = 8080,
                 access: ViewerAccess | None = None) -> None:
        self.watcher, self.host, self.port = watcher, host, port
        self.access = access or ViewerAccess.for_listen(host)
        self._runner: web.AppRunner | None = None
        self._loop = LoopThread("fleet-viewer")

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        base = f"http://{host}:{self.port}/fleet"
        return f"{base}?token={self.access.token}" if self.access.token else base

    def start(self) -> FleetServer:
        sock = listen_socket(self.host, self.port, "HTTP", "choose another with --http-port (0 picks free ones)")
        self.port = sock.getsockname()[1]

        async def boot() -> None:
            self._runner = web.AppRunner(build_fleet_app(self.watcher, self.access), handle_signals=False,
                                         access_log=None, shutdown_timeout=1.0)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()

        try:
            self._loop.start(boot())
        except SimulatorError:
            sock.close()
            raise
        except Exception as exc:  # noqa: BLE001 - aiohttp's own start-up errors, said once
            sock.close()
            raise PortInUseError(f"cannot start the fleet viewer on {self.url}: {exc}") from None
        log.info("fleet viewer on %s", self.url)
        return self

    def stop(self) -> None:
        runner, self._runner = self._runner, None
        self._loop.stop(runner.cleanup() if runner is not None else None)
