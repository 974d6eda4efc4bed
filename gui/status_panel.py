"""The device's live status as a two-column table (what ``SimulatedDevice.status()`` reports)."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QSizePolicy, QWidget

from gui import theme
from simulator.status import DeviceStatus, PacingStatus

ROWS = ("Profile", "Source", "Camera", "Project", "Lambda", "Start-up", "Runs on", "Inference", "Latency", "Pacing",
        "Broker", "Topic", "Thing", "Messages")
ZWSP = "\u200b"
MIN_LINES = 4  # the least of the panel a short window shows (it scrolls for the rest)


def breakable(text: str) -> str:
    """Escaped text that may wrap after '/', '_' and '-' (long topics and thing names never get cut off)."""
    return "".join(c + ZWSP if c in "/_-:" else c for c in html.escape(text))


def _num(value, unit: str = "", digits: int = 1) -> str:
    return f"{value:.{digits}f}{unit}" if isinstance(value, (int, float)) else "–"


def _bad(text: str) -> str:
    return f'<span style="color:{theme.BAD}">{html.escape(text)}</span>'


def _pacing(s: DeviceStatus) -> str:
    pacing: PacingStatus | None = s.inference.pacing
    if pacing is not None:
        return _bad(pacing.status) if pacing.host_too_slow else html.escape(pacing.status)
    if s.profile == "host":
        return "unpaced (host)"
    if s.project is None:
        return "–"
    if s.inference.model is None and s.inference.inferences == 0:
        return "waiting for the model"
    return f"not paced: {html.escape(s.profile)} has no prediction for this model"


def runs_on(s: DeviceStatus) -> str:
    """What the Lambda asked for, what runs it on this computer, what the profile's prediction is for."""
    inf = s.inference
    if inf.runs_on is None:
        return "–"
    text = f"asked {html.escape(inf.device or '?')}; here {html.escape(inf.runs_on)}"
    if inf.pacing is not None and inf.pacing.device:
        text += f"; {html.escape(s.profile)} predicts its {html.escape(inf.pacing.device)}"
        text += f" ({html.escape(inf.pacing.precision)})" if inf.pacing.precision else ""
    return text


def format_status(s: DeviceStatus) -> dict[str, str]:
    """Row name → rich text for one status."""
    cam, lam, inf, broker, size = s.camera, s.lambda_, s.inference, s.broker, s.frame_size
    latency = "–"
    if inf.host_ms is not None:
        latency = f'<b style="color:{theme.ACCENT}">{_num(inf.host_ms)} ms</b> host'
        if inf.predicted_ms is not None:
            latency += f' · <b style="color:{theme.INFO}">{_num(inf.predicted_ms)} ms</b> predicted'
    rows = {
        "Profile": html.escape(s.profile),
        "Source": breakable(s.source) + (f" ({size[0]}×{size[1]})" if size else ""),
        "Camera": (f"{_num(cam.fps)} fps, {cam.dropped} dropped"
                   + (f" — {_bad(cam.error)}" if cam.error else "")) if cam else "–",
        "Project": html.escape(s.project or "none"),
        "Lambda": "not deployed",
        "Runs on": runs_on(s),
        "Inference": f"{_num(inf.fps)} fps, {_num(inf.publish_rate)} msg/s",
        "Latency": latency,
        "Pacing": _pacing(s),
        "Broker": f"{broker.host}:{broker.port}" + (" (embedded)" if broker.embedded else ""),
        "Topic": breakable(broker.infer_topic),
        "Thing": breakable(s.thing_name),
        "Messages": str(s.messages),
    }
    st = s.startup
    if st is not None:
        rows["Start-up"] = ("running" if st.ready else html.escape(st.describe())) + (
            f" — first result after {st.first_result_s:.1f} s" if st.first_result_s is not None else "")
    else:
        rows["Start-up"] = "–"
    if lam is not None:
        colour = {"running": theme.GOOD, "restarting": theme.BAD}.get(lam.state, theme.MUTED)
        rows["Lambda"] = f'<span style="color:{colour}">●</span> {html.escape(lam.state)}, {lam.restarts} restart(s)'
        if lam.last_error:
            rows["Lambda"] += "<br>" + _bad(lam.last_error[:200])
    return rows


class StatusPanel(QWidget):
    """The rows; ``contents_changed`` when a value's text changed (its wrapped height may have)."""

    contents_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(3)
        grid.setColumnStretch(1, 1)
        self.values: dict[str, QLabel] = {}
        for row, name in enumerate(ROWS):
            key = QLabel(name)
            key.setObjectName("key")
            value = QLabel("–")
            value.setTextFormat(Qt.TextFormat.RichText)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(key, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, row, 1)
            self.values[name] = value

    def update_status(self, status: DeviceStatus) -> None:
        self._show(format_status(status))

    def clear(self, note: str = "–") -> None:
        self._show({name: note if name == "Lambda" else "–" for name in self.values})

    def _show(self, rows: dict[str, str]) -> None:
        changed = False
        for name, text in rows.items():
            label = self.values[name]
            if label.text() != text:
                label.setText(text)
                label.setToolTip(text.replace(ZWSP, ""))
                changed = True
        if changed:
            self.contents_changed.emit()

    def text(self, name: str) -> str:
        return self.values[name].text()


class StatusArea(QScrollArea):
    """The status panel in a frameless scroll area that asks for the whole height its wrapped rows need at its
    width, so the side column gives it that before the live view and the plot grow; only a window too short for
    it scrolls it."""

    def __init__(self, panel: StatusPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.setWidget(panel)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._needed = 0
        panel.contents_changed.connect(self._recheck)

    def needed_height(self) -> int:
        """The panel's height with every row unclipped, at the area's width less a scroll bar (so that a scroll
        bar, once shown, never makes the rows wrap into more than was asked for)."""
        width = self.width() - 2 * self.frameWidth() - self.verticalScrollBar().sizeHint().width()
        return self.panel.heightForWidth(max(1, width)) + 2 * self.frameWidth()

    def sizeHint(self) -> QSize:
        return QSize(self.panel.sizeHint().width(), self.needed_height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self.panel.minimumSizeHint().width(),
                     min(self.needed_height(), MIN_LINES * self.fontMetrics().lineSpacing()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._recheck()

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self._recheck()
        return super().event(event)

    def _recheck(self) -> None:
        needed = self.needed_height()
        if needed != self._needed:
            self._needed = needed
            self.updateGeometry()
