"""Inference latency over the last minute — host (measured) and predicted (the profile's device) — drawn with
QPainter (no plotting dependency)."""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui import theme

WINDOW_S = 60.0


def nice_ceiling(value: float) -> float:
    """The smallest round number (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8 ×10^n: quarters stay round) at or above
    ``value`` — the y axis' top."""
    if value <= 0:
        return 1.0
    base = 10 ** math.floor(math.log10(value))
    return next(m * base for m in (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10) if m * base >= value - 1e-9)


class LatencyPlot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: list[tuple[float, float, float | None]] = []
        self._now = time.time()
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(320, 150)

    def set_history(self, history: list[tuple[float, float, float | None]], now: float | None = None) -> None:
        self._now = now if now is not None else time.time()
        self.history = [h for h in history if h[0] >= self._now - WINDOW_S]
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        p.setFont(font)
        fm = p.fontMetrics()
        area = QRectF(fm.horizontalAdvance("0000") + 8, fm.height() + 8, 0, 0)
        area.setRight(self.width() - 6)
        area.setBottom(self.height() - fm.height() - 6)
        if area.width() < 20 or area.height() < 20:
            return
        values = [v for _, host, pred in self.history for v in (host, pred) if v]
        top = nice_ceiling(max(values) * 1.15 if values else 10.0)
        self._grid(p, area, top, fm)
        series = ((1, theme.ACCENT, Qt.PenStyle.SolidLine), (2, theme.INFO, Qt.PenStyle.DashLine))
        for column, colour, style in series:
            self._line(p, area, top, column, QPen(QColor(colour), 2, style))
        self._legend(p, fm)
        p.end()

    def _x(self, area: QRectF, t: float) -> float:
        return area.left() + (1 - (self._now - t) / WINDOW_S) * area.width()

    def _grid(self, p: QPainter, area: QRectF, top: float, fm) -> None:
        p.setPen(QPen(QColor(theme.BORDER), 1))
        for i in range(5):
            y = area.bottom() - i / 4 * area.height()
            p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            p.setPen(QColor(theme.MUTED))
            label = f"{top * i / 4:g}"
            p.drawText(QRectF(0, y - fm.height() / 2, area.left() - 4, fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
            p.setPen(QPen(QColor(theme.BORDER), 1))
        for ago in (60, 45, 30, 15, 0):
            x = area.left() + (1 - ago / WINDOW_S) * area.width()
            p.setPen(QColor(theme.MUTED))
            text = f"-{ago}s" if ago else "now"
            w = fm.horizontalAdvance(text)
            p.drawText(QPointF(min(max(x - w / 2, area.left() - w / 2), self.width() - w - 2),
                               area.bottom() + fm.ascent() + 4), text)

    def _line(self, p: QPainter, area: QRectF, top: float, column: int, pen: QPen) -> None:
        path, drawing = QPainterPath(), False
        for sample in self.history:
            value = sample[column]
            if not value:  # no inference (yet), or no prediction: a gap
                drawing = False
                continue
            pt = QPointF(self._x(area, sample[0]), area.bottom() - min(value / top, 1.0) * area.height())
            if drawing:
                path.lineTo(pt)
            else:
                path.moveTo(pt)
                drawing = True
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)

    def _legend(self, p: QPainter, fm) -> None:
        last = next((h for h in reversed(self.history) if h[1]), None)
        items = [("host", theme.ACCENT, last[1] if last else None),
                 ("predicted", theme.INFO, last[2] if last else None)]
        x = 6.0
        p.setPen(QColor(theme.MUTED))
        p.drawText(QPointF(x, fm.ascent() + 2), "ms")
        x += fm.horizontalAdvance("ms") + 12
        for name, colour, value in items:
            p.fillRect(QRectF(x, fm.ascent() / 2 - 1, 12, 3), QColor(colour))
            text = f"{name} {value:.1f}" if value else name
            p.setPen(QColor(theme.TEXT))
            p.drawText(QPointF(x + 16, fm.ascent() + 2), text)
            x += 16 + fm.horizontalAdvance(text) + 14
