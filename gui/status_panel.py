"""The device's live status as a two-column table (what ``SimulatedDevice.status()`` reports)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from gui import theme
from simulator.status import DeviceStatus, PacingStatus

ROWS = ("Profile", "Source", "Camera", "Project", "Lambda", "Start-up", "Runs on", "Inference", "Latency", "Pacing",
        "Broker", "Topic", "Thing", "Messages")
ZWSP = "\u200b"


def breakable(text: str) -> str:
    """Escaped text that may wrap after '/', '_' and '-' (long topics and thing names never get cut off)."""
    return "".join(c + ZWSP if c in "/_-:" else c for c in html.escape(text))


def _num(value, unit: str = "", digits: int = 1) -> str:
    return f"{value:.{digits}f}{unit}" if isinstance(value, (int, float)) else "–"


def _bad(text: str) -> str:
    return f'<span style="color:{theme.BAD}">{html.escape(text)}</span>'


def _pacing(pacing: PacingStatus | None) -> str:
    if pacing is None:
        return "unpaced (host)"
    return _bad(pacing.status) if pacing.host_too_slow else html.escape(pacing.status)


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
        "Pacing": _pacing(inf.pacing),
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
        for name, text in format_status(status).items():
            label = self.values[name]
            if label.text() != text:
                label.setText(text)
                label.setToolTip(text.replace(ZWSP, ""))

    def clear(self, note: str = "–") -> None:
        for name, label in self.values.items():
            label.setText(note if name == "Lambda" else "–")

    def text(self, name: str) -> str:
        return self.values[name].text()
