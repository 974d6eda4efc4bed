"""HTTP viewer (aiohttp, in its own thread): ``/``, ``/stream/project.mjpeg``, ``/stream/device.mjpeg``,
``/api/status``, ``/api/messages?since=N``.

MJPEG responses are ``multipart/x-mixed-replace``; each client gets the newest frame when there is one (frames in
between are skipped, never queued). Device frames are JPEG-encoded once per frame for all clients, downscaled to
at most ``DEVICE_STREAM_WIDTH`` pixels wide.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from importlib import resources

import cv2
from aiohttp import web

from simulator.core import SimulatedDevice
from simulator.errors import PortInUseError, SimulatorError

log = logging.getLogger(__name__)

BOUNDARY = "frame"
DEVICE_STREAM_WIDTH = 1280
POLL = 1 / 60


class DeviceJpegCache:
    """The newest device frame as JPEG, encoded once per camera frame whoever asks."""

    def __init__(self, device: SimulatedDevice, quality: int = 80) -> None:
        self._device, self._quality = device, quality
        self._index, self._jpeg = -1, b""
        self._lock = threading.Lock()

    def get(self, newer_than: int | None = None) -> tuple[int, bytes] | None:
        frame = self._device.device_frame()
        if frame is None or frame.index == newer_than:
            return None
        with self._lock:
            if frame.index != self._index:
                image = frame.image
                if image.shape[1] > DEVICE_STREAM_WIDTH:
                    h = round(image.shape[0] * DEVICE_STREAM_WIDTH / image.shape[1])
                    image = cv2.resize(image, (DEVICE_STREAM_WIDTH, h), interpolation=cv2.INTER_AREA)
                ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
                if ok:
                    self._index, self._jpeg = frame.index, buf.tobytes()
            return self._index, self._jpeg


def build_app(device: SimulatedDevice) -> web.Application:
    app = web.Application()
    device_jpegs = DeviceJpegCache(device)

    async def index(_request: web.Request) -> web.Response:
        page = resources.files("simulator.viewer").joinpath("page.html").read_text(encoding="utf-8")
        return web.Response(text=page, content_type="text/html")

    async def stream(request: web.Request, latest) -> web.StreamResponse:
        resp = web.StreamResponse(headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-cache, no-store", "Pragma": "no-cache"})
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        last = None
        try:
            while request.transport is not None and not request.transport.is_closing():  # the client is there
                got = await loop.run_in_executor(None, latest, last)
                if got is not None and got[0] != last and got[1]:
                    last, jpeg = got
                    await resp.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                     f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                await asyncio.sleep(POLL)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp

    async def project_stream(request: web.Request) -> web.StreamResponse:
        return await stream(request, device.project_jpeg)

    async def device_stream(request: web.Request) -> web.StreamResponse:
        return await stream(request, device_jpegs.get)

    async def status(_request: web.Request) -> web.Response:
        return web.json_response(device.status())

    async def messages(request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
            limit = min(500, int(request.query.get("limit", "50")))
        except ValueError:
            raise web.HTTPBadRequest(text="since and limit must be integers") from None
        return web.json_response({"total": device.messages.total,
                                  "messages": [m.as_dict() for m in device.messages.since(since, limit)]})

    app.router.add_get("/", index)
    app.router.add_get("/stream/project.mjpeg", project_stream)
    app.router.add_get("/stream/device.mjpeg", device_stream)
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/messages", messages)
    return app


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(f"HTTP port {host}:{port} is already in use",
                                 hint="choose another with --http-port (0 picks a free one)") from None
        raise PortInUseError(f"cannot serve HTTP on {host}:{port}: {exc.strerror}") from None
    sock.listen(64)
    sock.setblocking(False)
    return sock


class ViewerServer:
    def __init__(self, device: SimulatedDevice, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.device, self.host, self.port = device, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> ViewerServer:
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,), name="http-viewer", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise SimulatorError(f"the web viewer did not start within 10 s on {self.url}")
        if self._error is not None:
            raise PortInUseError(f"cannot start the viewer on {self.url}: {self._error}")
        log.info("viewer on %s", self.url)
        return self

    def _run(self, sock: socket.socket) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            self._runner = web.AppRunner(build_app(self.device), handle_signals=False, access_log=None,
                                         shutdown_timeout=1.0)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()

        try:
            loop.run_until_complete(boot())
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    def stop(self) -> None:
        if self._loop is None or not self._loop.is_running():
            return
        if self._runner is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            try:
                fut.result(timeout=5)
            except Exception as exc:  # noqa: BLE001 - stopping anyway
                log.debug("viewer shutdown: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
