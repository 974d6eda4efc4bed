"""MJPEG streams (``multipart/x-mixed-replace``): each client gets the newest frame when there is one — frames
in between are skipped, never queued — and the handler ends when the client leaves. Device frames are
JPEG-encoded once per camera frame for all clients, downscaled to at most ``DEVICE_STREAM_WIDTH`` wide."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import cv2
from aiohttp import web

from simulator.ipc.frames import Frame

BOUNDARY = "frame"
DEVICE_STREAM_WIDTH = 1280
POLL = 1 / 60

Latest = Callable[[int | None], "tuple[int, bytes] | None"]


class DeviceJpegCache:
    """The newest device frame as JPEG, encoded once per camera frame whoever asks."""

    def __init__(self, frame: Callable[[], Frame | None], quality: int = 80) -> None:
        self._frame, self._quality = frame, quality
        self._index, self._jpeg = -1, b""
        self._lock = threading.Lock()

    def get(self, newer_than: int | None = None) -> tuple[int, bytes] | None:
        frame = self._frame()
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


async def mjpeg(request: web.Request, latest: Latest) -> web.StreamResponse:
    """Serve ``latest(newer_than)`` — (sequence, JPEG) or None — as an MJPEG stream until the client leaves."""
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
