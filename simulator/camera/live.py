"""Live sources (webcams, network streams, the Pi camera): their blocking calls run on a reader thread of their own.

A device's open and reads can block for a long time (a stalled HTTP stream, an unplugged webcam, a camera that
stopped answering). The reader thread does all of them and keeps only the newest frame; ``read()`` waits for a
newer one at most ``stall_timeout`` seconds and can be interrupted, so the camera thread never hangs and ``stop()``
returns at once. An abandoned reader releases its device as soon as the blocked call returns.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Protocol

import numpy as np

from simulator.camera.base import PASSED, Source
from simulator.errors import DEMO_HINT, SimulatorError, SourceError

log = logging.getLogger(__name__)


class Device(Protocol):
    """An opened capture device, used only from its reader thread. One that also has ``grab() -> bool`` (take the
    next frame, not decoded) and ``retrieve() -> ndarray | None`` (decode the frame taken) is read that way when
    the source was offered a ``want`` (``Source.offer``): frames nobody will read are never decoded."""

    def read(self) -> np.ndarray | None:
        """The next frame (blocking); None once it stops delivering."""

    def close(self) -> None: ...


def describe(exc: BaseException) -> str:
    """One line for the status: the message of a SimulatorError (without its hint), else type and text."""
    if isinstance(exc, SimulatorError):
        return exc.message
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Reader:
    """One connection: a thread that opens the device, then reads until stopped or the device fails."""

    def __init__(self, connect: Callable[[], Device], name: str, lost_message: str,
                 want: Callable[[], bool] | None = None) -> None:
        self._connect, self._lost = connect, lost_message
        self.want = want
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._done = False
        self._stopping = False
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        device: Device | None = None
        try:
            device = self._connect()
            while not self._stopping:
                frame = self._next(device)
                if frame is None:
                    self.error = self._lost
                    break
                with self._cond:
                    self._frame, self._seq = frame, self._seq + 1
                    self._cond.notify_all()
        except Exception as exc:  # noqa: BLE001 - whatever the device raised is the reason shown in the status
            self.error = describe(exc)
        finally:
            if device is not None:
                try:
                    device.close()
                except Exception as exc:  # noqa: BLE001 - closing a failed device may fail too; nothing to do
                    log.debug("camera: closing the device failed: %s", exc)
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _next(self, device: Device) -> np.ndarray | None:
        """The next frame: decoded, or ``PASSED`` when it was only taken (``want`` said no)."""
        grab, retrieve, want = getattr(device, "grab", None), getattr(device, "retrieve", None), self.want
        if want is None or grab is None or retrieve is None:
            return device.read()
        if not grab():
            return None
        try:
            wanted = want()
        except Exception as exc:  # noqa: BLE001 - a failing predicate must not stop the camera: decode the frame
            log.debug("camera: deciding whether to decode a frame failed: %s", exc)
            wanted = True
        return retrieve() if wanted else PASSED

    def newer_than(self, seq: int, timeout: float, interrupted: threading.Event) -> tuple[int, np.ndarray] | None:
        """(seq, frame) of a frame newer than ``seq``; None on timeout, interruption or a finished reader."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._seq <= seq and not self._done and not interrupted.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            if self._seq > seq:
                return self._seq, self._frame  # type: ignore[return-value]
            return None

    @property
    def done(self) -> bool:
        return self._done

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def stop(self, wait: float = 0.0) -> None:
        """Ask the thread to finish and wait up to ``wait`` s for it; it closes the device when its current call
        returns, however long that takes."""
        self._stopping = True
        self.wake()
        if wait > 0 and self._thread is not threading.current_thread():
            self._thread.join(wait)


class LiveSource(Source):
    """A device read on a thread of its own. Subclasses say how to ``_connect()``; the rest is shared."""

    live = True
    open_timeout = 10.0  # seconds for a connection to deliver its first frame
    stall_timeout = 5.0  # seconds without a new frame before the source counts as stalled
    release_wait = 1.0  # seconds close() waits for the device to be let go (so it can be reopened at once)

    def __init__(self) -> None:
        self._reader: _Reader | None = None
        self._seq = 0
        self._interrupted = threading.Event()
        self._want: Callable[[], bool] | None = None

    @abstractmethod
    def _connect(self) -> Device:
        """Open the device (runs on the reader thread); raise SourceError saying why it cannot be opened."""

    def _lost_message(self) -> str:
        return f"{self.description} stopped delivering frames"

    def _cannot_open(self) -> str:
        return f"cannot open source {self.description}"

    def open(self) -> None:
        if self._reader is not None:
            self._reader.stop()
        reader = _Reader(self._connect, f"camera-reader {self.description}", self._lost_message(), self._want)
        self._reader, self._seq = reader, 0
        got = reader.newer_than(0, self.open_timeout + self.stall_timeout, self._interrupted)
        if got is None:
            reader.stop()
            self._reader = None
            why = reader.error or ("stopped" if self._interrupted.is_set()
                                   else f"no frame within {self.open_timeout + self.stall_timeout:g} s")
            raise SourceError(f"{self._cannot_open()}: {why}",
                              hint=f"check the device/URL, or {DEMO_HINT}")
        self.error = None
        # the first frame stays in the reader for the first read()

    def read(self) -> np.ndarray | None:
        reader = self._reader
        if reader is None:
            self.error = f"{self.description} is not open"
            return None
        got = reader.newer_than(self._seq, self.stall_timeout, self._interrupted)
        if got is None:
            if self._interrupted.is_set():
                self.error = "stopped"
            elif reader.done:
                self.error = reader.error or self._lost_message()
            else:
                self.error = f"no frame from {self.description} for {self.stall_timeout:g} s (stalled)"
            return None
        self._seq, frame = got
        return frame

    def skip(self) -> None:
        self.read()

    def offer(self, want: Callable[[], bool] | None) -> None:
        self._want = want
        if self._reader is not None:
            self._reader.want = want

    def interrupt(self) -> None:
        self._interrupted.set()
        if self._reader is not None:
            self._reader.wake()

    def close(self) -> None:
        """Let go of the device. An ``interrupt()`` holds until here, so one that comes while (re)opening is kept."""
        if self._reader is not None:
            self._reader.stop(self.release_wait)
            self._reader = None
        self._interrupted.clear()
