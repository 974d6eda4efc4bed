"""The Fleet tab: one tile per device seen on a broker — its thumbnail, latest result, results and inferences per
second (over the same seconds), last seen, Lambda state and restarts, and a badge when it falls behind, its
Lambda is in trouble or stopped, or it goes offline or stopped. Clicking a tile opens that device's web viewer
when it said where it is.

It watches the running device's broker by default (``watch_device``); the broker field watches any other
(``HOST:PORT``: a classroom's broker, a mosquitto). Connecting and disconnecting run on a worker thread; the
tiles are refreshed from ``FleetWatcher.snapshot()`` (in memory) once a second, so the GUI thread never waits
on the network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gui.elided_label import ElidedLabel
from gui.theme import ACCENT, BAD, GOOD, MUTED
from simulator.config import parse_host_port
from simulator.errors import SimulatorError
from simulator.fleet.capacity import sustains, sustains_all
from simulator.fleet.watcher import FleetSnapshot, FleetWatcher, ThingView

log = logging.getLogger(__name__)

REFRESH_MS = 1000
TILE_WIDTH = 280
ZWSP = "\u200b"
BADGES = {"ok": ("online", GOOD), "waiting": ("waiting", MUTED), "behind": ("falling behind", "#ffcc4d"),
          "lambda": ("Lambda in trouble", BAD), "idle": ("Lambda stopped", MUTED), "offline": ("offline", BAD),
          "stopped": ("stopped", BAD)}


def breakable(text: str) -> str:
    """``text`` that may wrap after '/', '_' and '-' too (long thing names in results and alerts)."""
    return "".join(c + ZWSP if c in "/_-" else c for c in text)


def seen_ago(seconds: float) -> str:
    return "now" if seconds < 1 else f"{seconds:.0f} s ago" if seconds < 90 else f"{seconds / 60:.0f} min ago"


def rates(view: ThingView) -> str:
    """Results and inferences per second, and the seconds they were counted over (the same seconds for both, when
    the device sends its inference counter)."""
    results = f"{view.results_per_s:.1f} results/s"
    if view.inference_fps is None:
        expected = f" · {view.expected_fps:.1f} inferences/s expected" if view.expected_fps is not None else ""
        return f"{results} over the last {view.rate_window_s:.0f} s{expected}"
    inferences = f"{view.inference_fps:.1f} inferences/s"
    if view.expected_fps is not None:
        inferences += f" of {view.expected_fps:.1f} expected"
    if view.same_window:
        return f"{results} · {inferences}, both over the same {view.rate_window_s:.0f} s"
    return f"{results} over the last {view.rate_window_s:.0f} s · {inferences}, as the device reported"


class FleetTile(QFrame):
    """One thing: name and badge, thumbnail, latest result, rates, Lambda state, last seen. A click on a tile
    whose device said where its viewer is emits ``activated(url)``."""

    activated = Signal(str)

    def __init__(self, thing: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="panel")
        self.thing, self.viewer, self.thumbnail_seq = thing, None, 0
        self.setFixedWidth(TILE_WIDTH)
        self.name = ElidedLabel(thing)  # the whole name in its tooltip
        self.name.setStyleSheet("font-family: monospace; font-weight: 600;")
        self.badge = QLabel()
        self.picture = QLabel("no thumbnail yet", alignment=Qt.AlignmentFlag.AlignCenter)
        self.picture.setFixedSize(TILE_WIDTH - 20, (TILE_WIDTH - 20) * 9 // 16)
        self.picture.setStyleSheet("background: #000; border-radius: 4px;")
        self.result = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.result.setStyleSheet("font-family: monospace; font-size: 11px;")
        self.alert = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.alert.setStyleSheet(f"color: {ACCENT}; font-family: monospace; font-size: 11px;")
        self.alert.hide()
        self.meta = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.meta.setStyleSheet(f"color: {MUTED}; font-size: 11px;")
        head = QHBoxLayout()
        head.addWidget(self.name, 1)
        head.addWidget(self.badge)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addLayout(head)
        layout.addWidget(self.picture)
        layout.addWidget(self.result)
        layout.addWidget(self.alert)
        layout.addWidget(self.meta)

    def show_view(self, view: ThingView, thumbnail: bytes | None) -> None:
        text, color = BADGES.get(view.badge, (view.badge, MUTED))
        if view.badge == "lambda":
            text = f"Lambda {view.lambda_state}"
        self.badge.setText(text)
        self.badge.setStyleSheet(f"color: {color}; font-size: 11px; font-weight: 600;")
        self.viewer = view.viewer if (view.viewer or "").startswith(("http://", "https://")) else None
        self.setCursor(Qt.CursorShape.PointingHandCursor if self.viewer else Qt.CursorShape.ArrowCursor)
        self.setToolTip(f"open {self.viewer}" if self.viewer else "this device did not say where its viewer is")
        if thumbnail is not None and view.thumbnail_seq != self.thumbnail_seq:
            image = QImage.fromData(thumbnail)
            if not image.isNull():
                self.thumbnail_seq = view.thumbnail_seq
                self.picture.setPixmap(QPixmap.fromImage(image).scaled(
                    self.picture.size(), Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation))
        self.result.setText(breakable(view.result or "no result yet"))
        self.alert.setText(breakable(f"alert ({view.alerts}): {view.alert}") if view.alert else "")
        self.alert.setVisible(bool(view.alert))
        rate = rates(view)
        lam = f"Lambda {view.lambda_state}, {view.restarts} restart(s)" if view.lambda_state else ""
        if view.lambda_state not in (None, "running", "stopped") and view.last_event:
            lam += f" — {view.last_event}"
        what = " on ".join(p for p in (view.project, view.profile) if p)
        self.meta.setText("\n".join(p for p in (rate, " · ".join(p for p in (what, lam) if p),
                                                f"last seen {seen_ago(view.seen_ago_s)}") if p))
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as its wrapped lines need at its fixed width (a grid in a scroll area would squeeze it)."""
        self.ensurePolished()  # the labels' style-sheet fonts decide how they wrap
        self.setFixedHeight(self.heightForWidth(TILE_WIDTH))

    def mouseReleaseEvent(self, event) -> None:
        if self.viewer and event.button() == Qt.MouseButton.LeftButton:
            self.activated.emit(self.viewer)
        super().mouseReleaseEvent(event)


class _Connector(QObject):
    done = Signal(object, str)  # (a started FleetWatcher or None, error text or "")


class FleetPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.watcher: FleetWatcher | None = None
        self.open_viewer: Callable[[str], object] = lambda url: QDesktopServices.openUrl(QUrl(url))
        self.tiles: dict[str, FleetTile] = {}
        self._positions: dict[str, tuple[int, int]] = {}
        self._device_factory: Callable | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gui-fleet")
        self._connector = _Connector()
        self._connector.done.connect(self._connected)
        self._generation = 0  # a later request wins over an earlier one still connecting
        self.broker_field = QLineEdit(placeholderText="HOST:PORT — empty: this device's broker")
        self.broker_field.returnPressed.connect(self.watch_field)
        self.watch_button = QPushButton("Watch")
        self.watch_button.clicked.connect(self.watch_field)
        self.summary = QLabel("Not watching a broker.", wordWrap=True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Broker", objectName="key"))
        bar.addWidget(self.broker_field, 1)
        bar.addWidget(self.watch_button)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.grid_host)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(scroll, 1)
        self.timer = QTimer(self, interval=REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # -- choosing the broker ---------------------------------------------------------------------------------
    def watch_device(self, device) -> None:
        """Watch the running device's broker (unless a broker was typed in); None: the device stopped."""
        self._device_factory = device.new_link if device is not None else None
        if self.broker_field.text().strip():
            return
        if device is not None:
            self._watch(lambda: FleetWatcher(device.new_link).start(), f"{device.mqtt_host}:{device.mqtt_port}")
            return
        self._generation += 1  # its broker is gone with it
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            self._pool.submit(watcher.stop)
        self._clear_tiles()
        self.summary.setText("The device is stopped: type a broker to watch another.")

    def watch_field(self) -> None:
        text = self.broker_field.text().strip()
        if not text:
            if self._device_factory is not None:
                factory = self._device_factory
                self._watch(lambda: FleetWatcher(factory).start(), "this device's broker")
            return
        try:
            host, port = parse_host_port(text)
        except ValueError as exc:
            self.summary.setText(f"<span style='color:{BAD}'>{text}: {exc}</span>")
            return
        self._watch(lambda: FleetWatcher(host=host, port=port).start(), text)

    def _watch(self, make: Callable[[], FleetWatcher], where: str) -> None:
        self._generation += 1
        generation, old = self._generation, self.watcher
        self.watcher = None
        self._clear_tiles()
        self.summary.setText(f"Connecting to {where}…")
        self._pool.submit(self._connect, make, old, generation)

    def _connect(self, make: Callable[[], FleetWatcher], old: FleetWatcher | None, generation: int) -> None:
        if old is not None:
            old.stop()
        try:
            watcher, error = make(), ""
        except (SimulatorError, OSError) as exc:
            watcher, error = None, str(exc).splitlines()[0]
        if generation != self._generation and watcher is not None:  # superseded, or the panel shut down
            watcher.stop()
            return
        self._connector.done.emit((generation, watcher), error)

    def _connected(self, result: tuple[int, FleetWatcher | None], error: str) -> None:
        generation, watcher = result
        if generation != self._generation:  # superseded while it connected
            if watcher is not None:
                self._pool.submit(watcher.stop)
            return
        self.watcher = watcher
        if watcher is None:
            self.summary.setText(f"<span style='color:{BAD}'>{error}</span>")
        self.refresh()

    # -- tiles -----------------------------------------------------------------------------------------------
    def _clear_tiles(self) -> None:
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
            tile.deleteLater()
        self.tiles.clear()
        self._positions.clear()

    def refresh(self) -> None:
        watcher = self.watcher
        if watcher is None:
            return
        snap = watcher.snapshot()
        self.summary.setText(self.describe(snap))
        names = [v.thing for v in snap.things]
        for gone in set(self.tiles) - set(names):
            tile = self.tiles.pop(gone)
            self._positions.pop(gone, None)
            self.grid.removeWidget(tile)
            tile.deleteLater()
        for view in snap.things:
            tile = self.tiles.get(view.thing)
            if tile is None:
                tile = self.tiles[view.thing] = FleetTile(view.thing)
                tile.activated.connect(lambda url: self.open_viewer(url))
            got = watcher.thumbnail(view.thing) if view.thumbnail_seq != tile.thumbnail_seq else None
            tile.show_view(view, got[1] if got else None)
        self._layout(names)

    def _layout(self, names: list[str]) -> None:
        columns = max(1, (self.width() - 20) // (TILE_WIDTH + 10))
        for i, name in enumerate(names):
            where = (i // columns, i % columns)
            if self._positions.get(name) != where:
                tile = self.tiles[name]
                self.grid.removeWidget(tile)
                self.grid.addWidget(tile, *where, alignment=Qt.AlignmentFlag.AlignTop)
                self._positions[name] = where

    @staticmethod
    def describe(snap: FleetSnapshot) -> str:
        text = f"Broker {snap.broker}{'' if snap.connected else ' (not connected)'}: {len(snap.things)} thing(s), " \
               f"{snap.online} online"
        if snap.judged:
            text += f", {snap.behind} falling behind — " + (
                sustains(snap.sustained, snap.full_rate_devices) if snap.behind
                else sustains_all(snap.judged, snap.keep_up))
        return text

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._layout(sorted(self.tiles))

    def shutdown(self) -> None:
        """Stop refreshing and disconnect (waits for the worker thread)."""
        self.timer.stop()
        self._generation += 1
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            self._pool.submit(watcher.stop)
        self._pool.shutdown(wait=True, cancel_futures=False)
