"""Python's cyclic garbage collector, run on the GUI thread only while the window is open.

Qt objects caught in reference cycles must be destroyed on the thread that owns them. Left alone, Python starts a
collection on whichever thread happens to allocate when a threshold is crossed — here the broker's event loop, a
Lambda output reader, the frame poller — and can destroy widgets, pixmaps or timers there, which crashes Qt.
While a ``GuiThreadCollector`` runs, automatic collection is off and a GUI-thread timer collects instead
(the youngest generation that is due, as the automatic collector would).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_active: list[GuiThreadCollector] = []


class GuiThreadCollector(QObject):
    def __init__(self, interval_ms: int = 500, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect)
        self._was_enabled = gc.isenabled()

    def start(self) -> GuiThreadCollector:
        if not _active:
            self._was_enabled = gc.isenabled()
        _active.append(self)
        gc.disable()
        self._timer.start()
        return self

    def collect(self) -> int:
        thresholds, counts = gc.get_threshold(), gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                return gc.collect(generation)
        return 0

    def stop(self) -> None:
        """Collect once more (here, on the GUI thread) and give collection back to Python."""
        self._timer.stop()
        if self in _active:
            _active.remove(self)
        gc.collect()
        if not _active and self._was_enabled:
            gc.enable()
