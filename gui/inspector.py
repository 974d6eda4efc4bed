"""The MQTT inspector: every message of the device (and of a topic filter the user types) with its time, topic
and payload; the selected — or else the newest — message is shown as pretty-printed JSON. Pause, clear, copy."""

from __future__ import annotations

import json
import time
from collections import deque

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui import theme

MAX_ROWS = 2000
COLUMNS = ("Time", "Topic", "Payload")


def pretty_payload(payload: bytes) -> str:
    """Indented JSON when the payload is JSON, else its text (or a note for binary data)."""
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(payload)} bytes of binary data: {payload[:32].hex(' ')}…>"


def message_text(msg) -> str:
    if msg.truncated:
        return (f"{_clock(msg.time)}  {msg.topic}  ({msg.size:,} bytes, sha256 {msg.sha256}; the first "
                f"{len(msg.payload):,} shown)\n{msg.payload.decode('utf-8', 'replace')}")
    return f"{_clock(msg.time)}  {msg.topic}\n{pretty_payload(msg.payload)}"


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


class MessageModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: deque = deque()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        msg = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == 0:
                return _clock(msg.time)
            if index.column() == 1:
                return msg.topic
            return msg.payload[:300].decode("utf-8", "replace").replace("\n", " ")
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 1:
            return msg.topic  # the column elides its middle
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor(theme.ACCENT if index.column() == 1 else theme.MUTED if index.column() == 0 else theme.TEXT)
        return None

    def append(self, messages: list) -> None:
        messages = messages[-MAX_ROWS:]
        overflow = len(self.rows) + len(messages) - MAX_ROWS
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            for _ in range(overflow):
                self.rows.popleft()
            self.endRemoveRows()
        first = len(self.rows)
        self.beginInsertRows(QModelIndex(), first, first + len(messages) - 1)
        self.rows.extend(messages)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.rows.clear()
        self.endResetModel()


class MqttInspector(QWidget):
    topic_filter_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = MessageModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # topics differ at their end (/infer, /info)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # no per-insert measuring of every row
        header.resizeSection(0, self.table.fontMetrics().horizontalAdvance("00:00:00.000") + 16)
        header.resizeSection(1, 300)
        header.setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_detail())
        self.detail = QPlainTextEdit(readOnly=True)
        self.detail.setPlaceholderText("No messages yet.")

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Also subscribe to a topic filter, e.g. sensors/#  (Enter)")
        self.filter.setClearButtonEnabled(True)
        self.filter.returnPressed.connect(lambda: self.topic_filter_changed.emit(self.filter.text().strip()))
        self.pause = QPushButton("Pause", checkable=True)
        self.pause.toggled.connect(self._on_pause)
        clear, copy = QPushButton("Clear"), QPushButton("Copy")
        clear.clicked.connect(self.clear)
        copy.clicked.connect(self.copy)
        self.count = QLabel("0 messages")
        self.count.setObjectName("key")
        bar = QHBoxLayout()
        bar.addWidget(self.filter, 1)
        bar.addWidget(self.count)
        for button in (self.pause, clear, copy):
            bar.addWidget(button)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self.received = 0
        self.held = 0  # arrived while paused (not shown)

    def add_messages(self, messages: list) -> None:
        self.received += len(messages)
        if self.pause.isChecked():
            self.held += len(messages)
        else:
            self.model.append(messages)
            if not self.table.selectionModel().hasSelection():
                self._show_detail()
                self.table.scrollToBottom()
        self._update_count()

    def _on_pause(self, paused: bool) -> None:
        self.pause.setText("Resume" if paused else "Pause")
        self.held = 0
        self._update_count()

    def _update_count(self) -> None:
        text = f"{len(self.model.rows)} shown · {self.received} received"
        self.count.setText(text + (f" · {self.held} held (paused)" if self.held else ""))

    def selected(self):
        rows = self.table.selectionModel().selectedRows()
        if rows:
            return self.model.rows[rows[0].row()]
        return self.model.rows[-1] if self.model.rows else None

    def _show_detail(self) -> None:
        msg = self.selected()
        self.detail.setPlainText(message_text(msg) if msg is not None else "")

    def clear(self) -> None:
        self.model.clear()
        self.received = self.held = 0
        self.detail.clear()
        self._update_count()

    def copy(self) -> None:
        """Copy the selected message (or, with none selected, every shown message) to the clipboard."""
        if self.table.selectionModel().hasSelection():
            text = message_text(self.selected())
        else:
            text = "\n\n".join(message_text(m) for m in self.model.rows)
        QGuiApplication.clipboard().setText(text)

    def topics(self) -> list[str]:
        return [m.topic for m in self.model.rows]
