"""HTTP viewer (aiohttp, in its own thread): ``/``, ``/stream/project.mjpeg``, ``/stream/device.mjpeg``,
``/api/status``, ``/api/messages?since=N&limit=M``, ``/api/rules`` (``POST /api/rules/reload``), ``/api/cloud``,
``/api/cloud/object?bucket=B&key=K``, ``/api/kvs`` and ``/kvs/<stream>/latest.mp4`` (Kinesis Video segments).

Every request passes the host check and, beyond loopback, the access token (see ``simulator.viewer.access``).
Responses that may be large are built off the event loop, so a slow one never holds up the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import socket
import ssl
from importlib import resources

from aiohttp import web

from simulator.aio_thread import LoopThread, listen_socket
from simulator.core import SimulatedDevice
from simulator.errors import PortInUseError, SimulatorError
from simulator.fleet.watcher import FleetWatcher
from simulator.kvs.web import kvs_routes
from simulator.viewer.access import ViewerAccess
from simulator.viewer.fleet_routes import add_fleet_routes
from simulator.viewer.streams import DeviceJpegCache, mjpeg

log = logging.getLogger(__name__)

MAX_MESSAGES = 500


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be an integer, got {raw!r}\n") from None
    if not lo <= value <= hi:
        raise web.HTTPBadRequest(text=f"{name} must be from {lo} to {hi}, got {value}\n")
    return value


def _json(text: str) -> web.Response:
    return web.Response(text=text, content_type="application/json")


def build_app(device: SimulatedDevice, access: ViewerAccess | None = None,
              fleet: FleetWatcher | None = None) -> web.Application:
    access = access or ViewerAccess.for_listen("127.0.0.1")
    app = web.Application(middlewares=[access.middleware()])
    device_jpegs = DeviceJpegCache(device.device_frame)
    page = resources.files("simulator.viewer").joinpath("page.html").read_text(encoding="utf-8")
    if fleet is not None:  # this viewer also serves the fleet page: the header links to it
        page = page.replace('<nav id="nav" hidden>', '<nav id="nav">', 1)

    async def off_loop(fn):  # build a response body on a worker thread
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})

    async def project_stream(request: web.Request) -> web.StreamResponse:
        return await mjpeg(request, device.project_jpeg)

    async def device_stream(request: web.Request) -> web.StreamResponse:
        return await mjpeg(request, device_jpegs.get)

    async def status(_request: web.Request) -> web.Response:
        return _json(await off_loop(lambda: json.dumps(device.status().as_json())))

    async def messages(request: web.Request) -> web.Response:
        since = _int_param(request, "since", 0, 0, 2**62)
        limit = _int_param(request, "limit", 50, 1, MAX_MESSAGES)
        return _json(await off_loop(lambda: json.dumps(
            {"total": device.messages.total, "messages": [m.as_dict() for m in device.messages.since(since, limit)]})))

    async def rules(_request: web.Request) -> web.Response:
        engine = device.rules
        return _json(await off_loop(lambda: json.dumps(
            [r.model_dump(mode="json") for r in engine.status()] if engine is not None else [])))

    async def rules_reload(_request: web.Request) -> web.Response:
        try:
            await off_loop(device.reload_rules)
        except SimulatorError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=422)
        return web.json_response({"ok": True, "rules": len(device.rules.status()) if device.rules else 0})

    async def cloud(_request: web.Request) -> web.Response:
        c = device.cloud
        if c is None:
            raise web.HTTPNotFound(text="the local cloud is off (--cloud aws): calls go to real AWS\n")
        return _json(await off_loop(lambda: c.snapshot().model_dump_json()))

    async def cloud_object(request: web.Request) -> web.Response:
        bucket, key = request.query.get("bucket", ""), request.query.get("key", "")
        missing = [name for name, value in (("bucket", bucket), ("key", key)) if not value]
        if missing:
            raise web.HTTPBadRequest(text=f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                                          "required: /api/cloud/object?bucket=B&key=K\n")
        c = device.cloud
        if c is None:
            raise web.HTTPNotFound(text="the local cloud is off (--cloud aws): calls go to real AWS\n")
        try:
            body = await off_loop(lambda: c.get_object(bucket, key))
        except Exception:  # noqa: BLE001 - botocore's ClientError and friends: the object is not there
            raise web.HTTPNotFound(text=f"no object {key!r} in bucket {bucket!r}\n") from None
        kind = mimetypes.guess_type(key)[0] or "application/octet-stream"
        return web.Response(body=body, content_type=kind, headers={"Cache-Control": "no-cache",
                                                                    "X-Content-Type-Options": "nosniff"})

    app.router.add_routes(kvs_routes(lambda: device.artifacts))
    app.router.add_get("/", index)
    app.router.add_get("/api/rules", rules)
    app.router.add_post("/api/rules/reload", rules_reload)
    app.router.add_get("/api/cloud", cloud)
    app.router.add_get("/api/cloud/object", cloud_object)
    if fleet is not None:
        add_fleet_routes(app, fleet)
    app.router.add_get("/stream/project.mjpeg", project_stream)
    app.router.add_get("/stream/device.mjpeg", device_stream)
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/messages", messages)
    return app


class ViewerServer:
    def __init__(self, device: SimulatedDevice, host: str = "127.0.0.1", port: int = 8080, *,
                 access: ViewerAccess | None = None, tls: ssl.SSLContext | None = None,
                 fleet: FleetWatcher | None = None) -> None:
        self.device, self.host, self.port = device, host, port
        self.fleet = fleet
        self.access = access or ViewerAccess.for_listen(host)
        self.tls = tls
        self._runner: web.AppRunner | None = None
        self._loop = LoopThread("http-viewer")

    def _address(self, host: str) -> str:
        base = f"{'https' if self.tls else 'http'}://{host}:{self.port}/"
        return f"{base}?token={self.access.token}" if self.access.token else base

    @property
    def url(self) -> str:
        """The address to open (with the token when one is needed)."""
        return self._address("127.0.0.1" if self.host in ("0.0.0.0", "") else
                             ("[::1]" if self.host == "::" else self.host))

    @property
    def remote_url(self) -> str:
        """The address another machine opens: this machine's name in place of a wildcard listen address (the same
        as ``url`` when the viewer listens on one address)."""
        return self._address(socket.gethostname()) if self.host in ("0.0.0.0", "", "::") else self.url

    def start(self) -> ViewerServer:
        sock = listen_socket(self.host, self.port, "HTTP", "choose another with --http-port (0 picks a free one)")
        self.port = sock.getsockname()[1]

        async def boot() -> None:
            self._runner = web.AppRunner(build_app(self.device, self.access, self.fleet), handle_signals=False,
                                         access_log=None,
                                         shutdown_timeout=1.0)
            await self._runner.setup()
            await web.SockSite(self._runner, sock, ssl_context=self.tls).start()

        try:
            self._loop.start(boot())
        except SimulatorError:
            sock.close()
            raise
        except Exception as exc:  # noqa: BLE001 - aiohttp's own start-up errors, said once
            sock.close()
            raise PortInUseError(f"cannot start the viewer on {self.url}: {exc}") from None
        log.info("viewer on %s", self.url)
        return self

    def stop(self) -> None:
        runner, self._runner = self._runner, None
        self._loop.stop(runner.cleanup() if runner is not None else None)
