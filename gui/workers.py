"""Off-GUI-thread work that feeds widgets through signals.

``FramePoller`` — a thread that polls the running device ~30 times a second and emits the newest device and
project frames (already scaled to the view, as ``QImage``) plus its status twice a second. A frame is only
emitted when the previous one of the same stream has been shown (``frame_shown``): slow painting drops frames,
it never queues them.

``SignalBatcher`` — takes items from any thread (MQTT callbacks, Lambda output readers) into a bounded deque and
hands them to the GUI thread in batches, at most 20 times a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import cv2
import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)

PROJECT, DEVICE = "project", "device"
STATUS_PERIOD = 0.5


def to_qimage(image: np.ndarray, box: tuple[int, int] | None = None) -> QImage:
    """A BGR uint8 frame as an owned QImage, shrunk (keeping its aspect) to fit ``box`` (w, h) if given."""
    h, w = image.shape[:2]
    if box and box[0] > 0 and box[1] > 0:
        scale = min(box[0] / w, box[1] / h)
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    image = np.ascontiguousarray(image)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = image.shape[:2]
    return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_BGR888).copy()


class FramePoller(QThread):
    frame = Signal(str, QImage, int, int)  # stream, image (scaled), original width, original height
    status = Signal(object, object)  # device.status() (a DeviceStatus), list of (unix_time, host_ms, predicted_ms)

    def __init__(self, fps: float = 30.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("frame-poller")
        self._period = 1.0 / fps
        self._device = None
        self._lock = threading.Lock()  # held while polling: set_device(None) waits for the poll in progress
        self._boxes: dict[str, tuple[int, int]] = {PROJECT: (1280, 720), DEVICE: (640, 360)}
        self._pending = {PROJECT: False, DEVICE: False}
        self._last = {PROJECT: -1, DEVICE: -1}
        self.dropped = {PROJECT: 0, DEVICE: 0}
        self._next_status = 0.0

    # -- called from the GUI thread ------------------------------------------------------------------------
    def set_device(self, device) -> None:
        with self._lock:
            self._device = device
            self._last = {PROJECT: -1, DEVICE: -1}
            self._next_status = 0.0

    def set_target_size(self, stream: str, width: int, height: int) -> None:
        self._boxes[stream] = (width, height)

    @Slot(str)
    def frame_shown(self, stream: str) -> None:
        self._pending[stream] = False

    def stop(self) -> None:
        self.requestInterruption()
        self.wait(5000)

    # -- the thread ----------------------------------------------------------------------------------------
    def run(self) -> None:
        while not self.isInterruptionRequested():
            started = time.monotonic()
            with self._lock:
                if self._device is not None:
                    try:
                        self._poll(self._device, started)
                    except Exception:  # noqa: BLE001 - a device being torn down must not kill the poller
                        log.debug("frame poll failed", exc_info=True)
            left = self._period - (time.monotonic() - started)
            if left > 0:
                self.msleep(int(left * 1000))

    def _poll(self, device, now: float) -> None:
        frame = device.device_frame()
        if frame is not None and frame.index != self._last[DEVICE]:
            self._offer(DEVICE, frame.index, lambda: frame.image)
        project = device.project_jpeg()  # None when nothing is deployed (undeploy blanks the stream)
        if project is None:
            if self._last[PROJECT] > 0:  # the project stream went away (Lambda stopped or swapped)
                self._last[PROJECT] = 0
                self.frame.emit(PROJECT, QImage(), 0, 0)
        elif project[0] != self._last[PROJECT]:
            data = project[1]
            self._offer(PROJECT, project[0],
                        lambda: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
        if now >= self._next_status:
            self._next_status = now + STATUS_PERIOD
            self.status.emit(device.status(), list(device.telemetry.history))

    def _offer(self, stream: str, seq: int, get_image) -> None:
        if self._pending[stream]:
            self.dropped[stream] += 1
            return
        image = get_image()
        self._last[stream] = seq
        if image is None:
            return
        h, w = image.shape[:2]
        self._pending[stream] = True
        self.frame.emit(stream, to_qimage(image, self._boxes.get(stream)), w, h)


class SignalBatcher(QObject):
    """Thread-safe ``push(item)``; the GUI thread receives ``batch(list)`` at most every ``interval_ms``."""

    batch = Signal(list)
    _wake = Signal()

    def __init__(self, maxlen: int = 2000, interval_ms: int = 50, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: deque = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._scheduled = False
        self.dropped = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.drain)
        self._wake.connect(self._timer.start, Qt.ConnectionType.QueuedConnection)

    def push(self, item) -> None:
        with self._lock:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1
            self._items.append(item)
            if self._scheduled:
                return
            self._scheduled = True
        self._wake.emit()

    @Slot()
    def drain(self) -> None:
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._scheduled = False
        if items:
            self.batch.emit(items)
