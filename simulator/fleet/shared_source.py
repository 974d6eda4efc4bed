"""One decoder for a source that several simulated devices play: the file (or webcam, or stream) is read once, at
its own frame rate, and every device's camera reads the newest frame from it.

    fan = FrameFanOut(open_source("clip.mp4"))
    camera_source = fan.client()      # a Source: give one to each device's camera
    fan.decoded, fan.delivered        # frames decoded once, frames handed to the cameras

A client's ``read()`` blocks until a frame newer than the last one it returned is there (so each camera sees each
frame at most once, and is paced by the decoder: ``live`` is True), and returns None when the client is closed or
interrupted, or when no new frame came within ``stall_timeout`` (the camera then reopens it, as it does a webcam).
The decoder runs while at least one client is open. Frames are shared, not copied: they are read-only arrays.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from simulator.camera.base import Source
from simulator.camera.playback import catch_up
from simulator.camera.sources import choose_source
from simulator.errors import SourceError

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 0.5, 10.0


class FrameFanOut:
    """Decodes ``source`` on a thread of its own while any of its clients is open."""

    def __init__(self, source: Source, stall_timeout: float | None = None) -> None:
        self.source = source
        self.description = source.description
        self.fps: float | None = None
        self.error: str | None = None
        self.decoded = 0  # frames read from the source
        self.delivered = 0  # frames handed to clients (each client gets each frame at most once)
        self.skipped = 0  # frames passed over because decoding fell behind the source's rate
        self.opens = 0  # times the source was opened
        self._stall_timeout = stall_timeout
        self._cond = threading.Condition()
        self._life = threading.Lock()  # starting and stopping the decoder, one at a time
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._clients: set[SharedSource] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._format: tuple[int | None, int | None, float | None] | None = None
        self._slow_said = False

    def client(self) -> SharedSource:
        return SharedSource(self)

    @property
    def clients(self) -> int:
        with self._cond:
            return len(self._clients)

    @property
    def stall_timeout(self) -> float:
        if self._stall_timeout is not None:
            return self._stall_timeout
        return max(5.0, 3.0 / self.fps) if self.fps else 5.0

    # -- clients come and go ---------------------------------------------------------------------------------
    def request_format(self, width: int | None, height: int | None, fps: float | None) -> None:
        if self._format is None:  # the first device's camera format is the one asked of the source
            self._format = (width, height, fps)

    def _attach(self, client: SharedSource) -> None:
        with self._life:
            with self._cond:
                self._clients.add(client)
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()  # the first client, or the decoder died: (re)open the source
            try:  # the first client opens the source on its own thread: a bad file is its SourceError
                self._open()
            except BaseException:
                with self._cond:
                    self._clients.discard(client)
                raise
            self._thread = threading.Thread(target=self._run, name=f"fan-out {self.description}", daemon=True)
            self._thread.start()

    def _detach(self, client: SharedSource) -> None:
        with self._life:
            with self._cond:
                self._clients.discard(client)
                self._cond.notify_all()
                if self._clients or self._thread is None:
                    return
            thread, self._thread = self._thread, None
            self._stop.set()
            self.source.interrupt()
            thread.join(timeout=10)
            if thread.is_alive():
                log.warning("shared source: %s did not return from a read within 10 s", self.description)

    def close(self) -> None:
        """Close every client (their reads return None) and stop decoding."""
        with self._cond:
            clients = list(self._clients)
        for c in clients:
            c.close()

    # -- the decoder -----------------------------------------------------------------------------------------
    def _open(self) -> None:
        if self._format is not None:
            self.source.request_format(*self._format)
        self.source.open()
        self.opens += 1
        self.fps = self.source.fps
        first = self.source.read()
        if first is None:
            self.source.close()
            raise SourceError(f"cannot read a first frame from {self.description}: {self.source.error}")
        self._put(first)

    def _put(self, frame: np.ndarray) -> None:
        frame.setflags(write=False)  # shared by every device: nobody may draw on it
        with self._cond:
            self._frame, self._seq = frame, self._seq + 1
            self.decoded += 1
            self.error = None
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - the clients must hear that the decoder died
            log.exception("shared source: the decoder of %s failed", self.description)
            with self._cond:
                self.error = f"the shared decoder failed: {exc}"
                self._cond.notify_all()
        finally:
            self.source.close()

    def _loop(self) -> None:
        paced = self.fps if not self.source.live else None
        t0, n = time.monotonic(), 1
        while not self._stop.is_set():
            if paced:  # a file plays at its own rate; more than a frame behind, frames are skipped
                due = t0 + n / paced
                if (wait := due - time.monotonic()) > 0:
                    self._stop.wait(wait)
                    continue
                t0, n, skipped, moved = catch_up(t0, n, paced, self.source.skip)
                self.skipped += skipped
                if skipped and self.source.decode_faster():
                    log.info("shared source: %s is decoded on more threads to keep up", self.description)
                if moved and not self._slow_said:
                    self._slow_said = True
                    log.warning("shared source: %s decodes slower than its %g fps on this machine: it plays slower "
                                "than real time", self.description, paced)
            frame = self.source.read()
            n += 1
            if frame is not None:
                self._put(frame)
                continue
            if self._stop.is_set():
                return
            self._reopen(self.source.error or f"no frame from {self.description}")
            t0, n = time.monotonic(), 0

    def _reopen(self, why: str) -> None:
        log.warning("shared source: %s; reopening", why)
        delay = RETRY_FIRST
        while not self._stop.is_set():
            with self._cond:
                self.error = why
                self._cond.notify_all()
            self.source.close()
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, RETRY_MAX)
            try:
                self.source.open()
            except Exception as exc:  # noqa: BLE001 - keep trying; the clients see why meanwhile
                why = str(exc)
                continue
            self.opens += 1
            return

    # -- what clients read -----------------------------------------------------------------------------------
    def _next(self, client: SharedSource) -> np.ndarray | None:
        with self._cond:
            self._cond.wait_for(lambda: client.stopped or self._seq > client.last_seq, timeout=self.stall_timeout)
            if client.stopped:
                client.error = "closed"
                return None
            if self._seq <= client.last_seq:
                client.error = self.error or f"no new frame from {self.description} within {self.stall_timeout:g} s"
                return None
            client.last_seq = self._seq
            client.delivered += 1
            self.delivered += 1
            return self._frame

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class SharedSource(Source):
    """One device's view of a ``FrameFanOut``: the newest frame, each at most once, paced by the decoder."""

    live = True

    def __init__(self, fan: FrameFanOut) -> None:
        self.fan = fan
        self.description = f"{fan.description} (shared)"
        self.fps = fan.fps
        self.last_seq = 0
        self.delivered = 0
        self._open = False
        self._interrupted = False

    @property
    def stopped(self) -> bool:
        return not self._open or self._interrupted

    def request_format(self, width: int | None, height: int | None, fps: float | None) -> None:
        self.fan.request_format(width, height, fps)

    def open(self) -> None:
        self._interrupted = False
        self.fan._attach(self)
        self._open = True
        self.fps = self.fan.fps
        self.error = None

    def read(self) -> np.ndarray | None:
        if not self._open:
            self.error = f"{self.description} is not open"
            return None
        return self.fan._next(self)

    def skip(self) -> None:
        """Nothing to skip: reads always return the newest frame."""

    def interrupt(self) -> None:
        self._interrupted = True
        self.fan._wake()

    def close(self) -> None:
        if self._open:
            self._open = False
            self.fan._detach(self)


def source_key(spec: str | None) -> str:
    """What makes two source specs the same source: a file's resolved path, else the spec itself."""
    if spec is None:
        return "<default>"
    path = Path(spec).expanduser()
    try:
        if path.exists():
            return str(path.resolve())
    except OSError:
        pass
    return spec.strip()


class SharedSources:
    """One ``FrameFanOut`` per distinct source spec, for the devices of one fleet (``get`` builds it the first
    time, with ``choose_source``: SourceError for a spec that names nothing)."""

    def __init__(self, make: Callable[[str | None], Source] = choose_source) -> None:
        self._make = make
        self.fanouts: dict[str, FrameFanOut] = {}

    def get(self, spec: str | None) -> SharedSource:
        key = source_key(spec)
        if key not in self.fanouts:
            self.fanouts[key] = FrameFanOut(self._make(spec))
        return self.fanouts[key].client()

    def close(self) -> None:
        for fan in self.fanouts.values():
            fan.close()
