"""The device's live status as a two-column table (what ``SimulatedDevice.status()`` reports)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from gui import theme

ROWS = ("Profile", "Source", "Camera", "Project", "Lambda", "Inference", "Latency", "Pacing", "Broker", "Topic",
        "Thing", "Messages")


def _num(value, unit: str = "", digits: int = 1) -> str:
    return f"{value:.{digits}f}{unit}" if isinstance(value, (int, float)) else "–"


def _bad(text: str) -> str:
    return f'<span style="color:{theme.BAD}">{html.escape(text)}</span>'


def _pacing(pacing: dict) -> str:
    text = str(pacing.get("status") or pacing.get("message") or "–")
    return _bad(text) if pacing.get("host_too_slow") else html.escape(text)


def format_status(s: dict) -> dict[str, str]:
    """Row name → rich text for one status dict."""
    cam = s.get("camera") or {}
    lam = s.get("lambda")
    inf = s.get("inference") or {}
    broker = s.get("broker") or {}
    size = s.get("frame_size")
    rows = {
        "Profile": html.escape(str(s.get("profile", ""))),
        "Source": html.escape(str(s.get("source", ""))) + (f" ({size[0]}×{size[1]})" if size else ""),
        "Camera": (f"{_num(cam.get('fps'))} fps, {cam.get('dropped', 0)} dropped"
                   + (f" — {_bad(str(cam['error']))}" if cam.get("error") else "")) if cam else "–",
        "Project": html.escape(str(s.get("project") or "none")),
        "Lambda": "not deployed",
        "Inference": f"{_num(inf.get('fps'))} fps, {_num(inf.get('publish_rate'))} msg/s",
        "Latency": (f'<b style="color:{theme.ACCENT}">{_num(inf.get("host_ms"))} ms</b> host'
                    + (f' · <b style="color:{theme.INFO}">{_num(inf.get("predicted_ms"))} ms</b> predicted'
                       if inf.get("predicted_ms") is not None else "")) if inf.get("host_ms") is not None else "–",
        "Pacing": _pacing(inf.get("pacing") or {}),
        "Broker": (f"{broker.get('host')}:{broker.get('port')}" + (" (embedded)" if broker.get("embedded") else ""))
        if broker else "–",
        "Topic": html.escape(str(broker.get("infer_topic", ""))),
        "Thing": html.escape(str(s.get("thing_name", ""))),
        "Messages": str(s.get("messages", 0)),
    }
    if lam:
        colour = {"running": theme.GOOD, "restarting": theme.BAD}.get(lam.get("state"), theme.MUTED)
        rows["Lambda"] = (f'<span style="color:{colour}">●</span> {html.escape(str(lam.get("state")))}, '
                          f"{lam.get('restarts', 0)} restart(s)")
        if lam.get("last_error"):
            rows["Lambda"] += "<br>" + _bad(str(lam["last_error"])[:200])
    return rows


class StatusPanel(QWidget):
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

    def update_status(self, status: dict) -> None:
        for name, text in format_status(status).items():
            label = self.values[name]
            if label.text() != text:
                label.setText(text)

    def clear(self, note: str = "–") -> None:
        for name, label in self.values.items():
            label.setText(note if name == "Lambda" else "–")

    def text(self, name: str) -> str:
        return self.values[name].text()
