"""The Lambda's log: its stdout and stderr lines and the supervisor's notes (started, crashed, restarting)."""

from __future__ import annotations

import html
import re
import time

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from gui import theme
from simulator.events import LambdaRestarting, StatusEvent

MAX_LINES = 3000


def describe_event(event: StatusEvent) -> str:
    """A supervisor event as one sentence."""
    return event.describe()


ERROR_LINE = re.compile(r"Traceback|Error\b|Exception\b|CRITICAL|^\s+File \"|^\s*raise ")
WARNING_LINE = re.compile(r"\bWARN(ING)?\b")


def line_colour(kind: str, line: str) -> str:
    if ERROR_LINE.search(line):
        return theme.BAD
    if WARNING_LINE.search(line):
        return "#e0c080"
    return theme.TEXT if kind == "stdout" else "#c8d0d8"


class LambdaLog(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.count = QLabel("")
        self.count.setObjectName("key")
        clear, copy = QPushButton("Clear"), QPushButton("Copy")
        clear.clicked.connect(self.clear)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        bar = QHBoxLayout()
        bar.addWidget(self.count, 1)
        bar.addWidget(clear)
        bar.addWidget(copy)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.text)
        self.lines = 0

    def add_batch(self, items: list[tuple[str, object]]) -> None:
        """Items from the controller's ``lambda_output``: ("stdout"|"stderr", line) or ("event", StatusEvent)."""
        bar = self.text.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        stamp = time.strftime("%H:%M:%S")
        chunks = []
        for kind, payload in items:
            if kind == "event":
                colour = theme.BAD if isinstance(payload, LambdaRestarting) else theme.ACCENT
                text = f"── {describe_event(payload)}"
            else:
                text = str(payload)
                colour = line_colour(kind, text)
            chunks.append(f'<span style="color:{theme.MUTED}">{stamp}</span> '
                          f'<span style="color:{colour}">{html.escape(text)}</span>')
        self.lines += len(items)
        for chunk in chunks[-MAX_LINES:]:
            self.text.appendHtml(chunk)
        self.count.setText(f"{self.lines} lines")
        if at_bottom:
            bar.setValue(bar.maximum())

    def clear(self) -> None:
        self.text.clear()
        self.lines = 0
        self.count.setText("")

    def plain_text(self) -> str:
        return self.text.toPlainText()
