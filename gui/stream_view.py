"""One video stream (project or device), painted letterboxed with its aspect ratio kept, with a small caption
below the picture (or over its bottom-left corner when there is no room)."""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui import theme

CAPTION_GAP = 8  # between the caption and the picture's or the widget's edge


class StreamView(QWidget):
    clicked = Signal()
    resized = Signal(str, int, int)  # stream, width, height in device pixels (what the poller scales frames to)

    def __init__(self, stream: str, title: str, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stream, self.title, self.placeholder = stream, title, placeholder
        self._pixmap = QPixmap()
        self.frame_size: tuple[int, int] | None = None  # the original frame's (w, h)
        self._times: deque[float] = deque(maxlen=30)
        self.frames_shown = 0
        self.note: str | None = None  # drawn over the picture (start-up progress), None when there is nothing to say
        self.setObjectName(f"{stream}View")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # takes focus from the pickers when clicked

    def pixmap(self) -> QPixmap:
        return self._pixmap

    @property
    def fps(self) -> float:
        if len(self._times) < 2 or self._times[-1] - self._times[0] <= 0:
            return 0.0
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])

    def set_image(self, image: QImage, width: int = 0, height: int = 0) -> None:
        if image.isNull():
            self.clear()
            return
        self._pixmap = QPixmap.fromImage(image)
        self.frame_size = (width or image.width(), height or image.height())
        self._times.append(time.monotonic())
        self.frames_shown += 1
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        self._pixmap = QPixmap()
        self.frame_size = None
        self._times.clear()
        if placeholder is not None:
            self.placeholder = placeholder
        self.update()

    def set_note(self, note: str | None) -> None:
        if note != self.note:
            self.note = note
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(640, 360)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        ratio = self.devicePixelRatioF()
        self.resized.emit(self.stream, int(self.width() * ratio), int(self.height() * ratio))

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def image_rect(self) -> QRectF:
        """Where the frame is drawn: the largest rectangle of the frame's aspect centred in the widget."""
        if self._pixmap.isNull():
            return QRectF()
        pw, ph = self._pixmap.width(), self._pixmap.height()
        scale = min(self.width() / pw, self.height() / ph)
        w, h = pw * scale, ph * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        path = QPainterPath()
        path.addRoundedRect(QRectF(self.rect()), 6, 6)
        p.fillPath(path, QColor("#000000"))
        p.setClipPath(path)
        if self._pixmap.isNull():
            p.setPen(QColor(theme.MUTED))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
        else:
            p.drawPixmap(self.image_rect(), self._pixmap, QRectF(self._pixmap.rect()))
        if self.note:
            self._note(p)
        self._caption(p)
        p.end()

    def _note(self, p: QPainter) -> None:
        p.fillRect(QRectF(self.rect()), QColor(15, 20, 25, 205))
        p.setPen(QColor(theme.TEXT))
        p.drawText(QRectF(self.rect()).adjusted(16, 16, -16, -16),
                   Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.note or "")

    def caption_box(self, width: float, height: float) -> QRectF:
        """Where a caption of that size goes: in the letterbox margin under (or over) the picture when there is
        room, else over the picture's bottom-left — never over its top-left, where DeepLens Lambdas write."""
        picture = self.image_rect()
        if picture.isNull():
            picture = QRectF(self.rect())
        x = max(CAPTION_GAP, picture.left() + CAPTION_GAP)
        below, above = self.height() - picture.bottom(), picture.top()
        if below >= height + CAPTION_GAP:
            y = picture.bottom() + (below - height) / 2
        elif above >= height + CAPTION_GAP:
            y = (above - height) / 2
        else:
            y = picture.bottom() - height - CAPTION_GAP
        return QRectF(x, y, width, height)

    def _caption(self, p: QPainter) -> None:
        text = self.title.upper()
        if self.frame_size:
            text += f"   {self.frame_size[0]}×{self.frame_size[1]}  ·  {self.fps:.0f} fps"
        font = QFont(self.font())
        font.setPointSizeF(max(7.5, font.pointSizeF() * 0.8))
        font.setBold(True)
        p.setFont(font)
        metrics = p.fontMetrics()
        box = self.caption_box(metrics.horizontalAdvance(text) + 16, metrics.height() + 8)
        pill = QPainterPath()
        pill.addRoundedRect(box, box.height() / 2, box.height() / 2)
        p.fillPath(pill, QColor(15, 20, 25, 190))
        p.setPen(QColor(theme.ACCENT))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
