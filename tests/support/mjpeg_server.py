"""A real MJPEG-over-HTTP camera for tests: ``multipart/x-mixed-replace`` JPEGs on 127.0.0.1.

It can go away (``stop()``: the listening socket closes and every open stream is cut) and come back on the same port
(``start()``), and it can stall (``stall()``: connections stay open, headers are sent, but no frame follows until
``resume()``) — the failures a network camera shows. Each frame is a solid colour with its number drawn on it.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "frameboundary"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    camera: MjpegServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class names it so
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        camera = self.server.camera
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        camera._connected()
        try:
            while camera._wait_for_turn(self.server):
                jpeg = camera._next_jpeg()
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                 f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client went away


class MjpegServer:
    """``start()`` → ``url``; ``stop()``/``start()`` again on the same port; ``stall()``/``resume()``."""

    def __init__(self, width: int = 320, height: int = 240, fps: float = 20.0,
                 color: tuple[int, int, int] = (0, 0, 200)) -> None:
        self.width, self.height, self.fps, self.color = width, height, fps, color
        self.port = 0
        self.frames_sent = 0
        self.connections = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpeg"

    def start(self) -> MjpegServer:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.camera = self
        self.port = server.server_address[1]
        self._server = server
        self._running.set()
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"mjpeg-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """The camera goes away: no new connections, and the streams in progress end."""
        self._running.clear()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def stall(self) -> None:
        """Streams stay open but deliver nothing (new connections get headers, then nothing)."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def port_is_free(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) != 0

    # -- for the handler ------------------------------------------------------------------------------
    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    def _wait_for_turn(self, server: _Server) -> bool:
        """Pace one frame (holding it while stalled); False once this server instance was stopped."""
        while self._running.is_set() and self._server is server:
            if self._flowing.is_set():
                time.sleep(1.0 / self.fps)
                if self._flowing.is_set():
                    return self._running.is_set() and self._server is server
            else:
                self._flowing.wait(0.05)
        return False

    def _next_jpeg(self) -> bytes:
        with self._lock:
            self.frames_sent += 1
            n = self.frames_sent
        image = np.empty((self.height, self.width, 3), np.uint8)
        image[:] = self.color
        cv2.putText(image, str(n), (10, self.height // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        return jpeg.tobytes()

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
