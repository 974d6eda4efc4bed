"""A strip under the toolbar where errors (and the odd notice) appear, so they are never only on the terminal."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

from gui import theme

LEVELS = {"error": (theme.BAD, "#2a1416", "✖"), "warning": (theme.ACCENT, "#2a2010", "⚠"),
          "info": (theme.INFO, "#10202a", "ℹ")}


class Banner(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.icon = QLabel()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.level = ""
        self._hide_timer = QTimer(self, singleShot=True, timeout=self.dismiss)
        self.hide()

    def show_message(self, text: str, level: str = "error", timeout_ms: int = 0) -> None:
        colour, background, icon = LEVELS[level]
        self.setStyleSheet(f"QFrame#banner {{ background: {background}; border-left: 4px solid {colour}; "
                           f"border-radius: 4px; }} QFrame#banner QLabel, QFrame#banner QToolButton "
                           f"{{ background: transparent; color: {theme.TEXT}; }}")
        self.icon.setText(f'<span style="color:{colour}; font-size:15px">{icon}</span>')
        self.label.setText(text)
        self.level = level
        self.show()
        if timeout_ms:
            self._hide_timer.start(timeout_ms)
        else:
            self._hide_timer.stop()

    def dismiss(self) -> None:
        self.level = ""
        self.label.clear()
        self.hide()

    def text(self) -> str:
        return self.label.text()
