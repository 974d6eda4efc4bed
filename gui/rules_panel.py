"""The Rules tab: each AWS IoT rule running on the device's topics, with its counters and its last output or
error, and a button that reads the rule files again (a bad file keeps the old rules and says why)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import theme
from simulator.rules.status import RuleStatus

COLUMNS = ("Rule", "Matched", "Succeeded", "Failed", "Dropped", "Last output / error")


class RulesPanel(QWidget):
    reload_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for i in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.note = QLabel("No rules: start with --rules FILE, or put a rules.yaml beside the project's Lambda.")
        self.note.setWordWrap(True)
        self.reload_button = QPushButton("Reload rule files")
        self.reload_button.clicked.connect(self.reload_requested)
        bar = QHBoxLayout()
        bar.addWidget(self.note, 1)
        bar.addWidget(self.reload_button)
        # the last reload's outcome has its own line: the counters change every message, and must not wipe it
        self.reload_note = QLabel()
        self.reload_note.setWordWrap(True)
        self.reload_note.setTextFormat(Qt.TextFormat.PlainText)
        self.reload_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reload_note.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.reload_note)
        layout.addWidget(self.table, 1)
        self._shown: tuple = ()

    def set_rules(self, rules: list[RuleStatus]) -> None:
        key = tuple((r.name, r.matched, r.actions_succeeded, r.actions_failed, r.dropped, r.last_output,
                     r.last_error) for r in rules)
        if key == self._shown:
            return
        self._shown = key
        if rules:
            self.note.setText(f"{len(rules)} rule(s) on the device's topics")
        self.table.setRowCount(len(rules))
        for row, r in enumerate(rules):
            last = r.last_error or r.last_output or ""
            cells = (f"{r.name}{'' if r.enabled else ' (disabled)'}", str(r.matched), str(r.actions_succeeded),
                     str(r.actions_failed), str(r.dropped), last)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setToolTip("\n".join([r.sql, r.source, *(f"{a.kind} → {a.target}" for a in r.actions)]))
                if col == len(cells) - 1:
                    item.setToolTip(last)
                    if r.last_error:
                        item.setForeground(Qt.GlobalColor.red)
                if col == 3 and r.actions_failed:
                    item.setForeground(Qt.GlobalColor.red)
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()

    def show_reload_result(self, text: str, ok: bool) -> None:
        self.reload_note.setStyleSheet(f"color: {theme.GOOD if ok else theme.BAD}")
        self.reload_note.setText(text)
        self.reload_note.show()
