"""``run_gui(config, duration)``: the desktop app — QApplication, themed main window, the device started with
``config``; returns 0 when the window closes (after ``duration`` seconds if given, or on Ctrl-C)."""

from __future__ import annotations

import gc
import logging
import signal

from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow
from gui.theme import ACCENT, apply_theme
from simulator.config import RunConfig

log = logging.getLogger(__name__)


def application() -> QApplication:
    """The process' QApplication (created and themed once)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(["deeplens-simulator"])
        app.setApplicationName("DeepLens simulator")
    if app.objectName() != "deeplens-simulator":
        apply_theme(app)
        icon = QPixmap(64, 64)
        icon.fill(ACCENT)
        app.setWindowIcon(QIcon(icon))
        app.setObjectName("deeplens-simulator")
    return app


def run_gui(config: RunConfig, duration: float | None = None) -> int:
    app = application()
    window = MainWindow()
    window.show()
    window.start(config)
    if duration is not None:
        QTimer.singleShot(int(duration * 1000), window.close)
    # Ctrl-C in the terminal closes the window (Python runs signal handlers only when it gets control: tick it)
    previous = signal.signal(signal.SIGINT, lambda *_: QTimer.singleShot(0, window.close))
    ticker = QTimer(interval=200)
    ticker.timeout.connect(lambda: None)
    ticker.start()
    try:
        app.exec()
    finally:
        ticker.stop()
        signal.signal(signal.SIGINT, previous)
        window.close()  # stops the device if the loop ended some other way
        dispose(window)
    return 0


def dispose(widget) -> None:
    """Delete a closed top-level widget now, and collect its Python garbage here on the GUI thread."""
    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
