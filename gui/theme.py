"""The dark theme shared with the web viewer: #0f1419 background, #ff9900 accent."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

BG = "#0f1419"
PANEL = "#1a2129"
HEADER = "#232f3e"
BORDER = "#2a333d"
TEXT = "#e6e6e6"
MUTED = "#8b98a5"
ACCENT = "#ff9900"
BAD = "#ff6b6b"
GOOD = "#5fd38d"
INFO = "#4fb3ff"

STYLESHEET = f"""
QWidget {{ background: {BG}; color: {TEXT}; font-size: 13px; }}
QMainWindow::separator {{ background: {BG}; width: 6px; height: 6px; }}
QFrame#panel, QWidget#panel {{ background: {PANEL}; border-radius: 6px; }}
QFrame#panel QWidget, QWidget#panel QWidget {{ background: transparent; }}
QLabel#panelTitle {{ color: {MUTED}; font-size: 11px; font-weight: 600; letter-spacing: 1px; }}
QLabel#key {{ color: {MUTED}; }}
QLabel#appTitle {{ color: {ACCENT}; font-size: 16px; font-weight: 700; background: transparent; }}
QLabel#thing {{ color: {MUTED}; font-family: monospace; background: transparent; }}
QWidget#header {{ background: {HEADER}; }}
QWidget#header QLabel {{ background: transparent; }}
QComboBox, QLineEdit {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 4px; padding: 4px 8px;
    selection-background-color: {ACCENT}; selection-color: #000; }}
QComboBox:focus, QLineEdit:focus {{ border-color: {ACCENT}; }}
QComboBox QAbstractItemView {{ background: {PANEL}; border: 1px solid {BORDER};
    selection-background-color: {ACCENT}; selection-color: #000; }}
QPushButton, QToolButton {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 4px; padding: 5px 12px; }}
QPushButton:hover, QToolButton:hover {{ border-color: {ACCENT}; }}
QPushButton:checked, QToolButton:checked {{ background: #3a2a10; border-color: {ACCENT}; color: {ACCENT}; }}
QPushButton:disabled {{ color: #55606b; }}
QPushButton#primary {{ background: {ACCENT}; color: #111; border: none; font-weight: 700; }}
QPushButton#primary:hover {{ background: #ffad33; }}
QPushButton#primary:disabled {{ background: #6b4a1a; color: #333; }}
QTabWidget::pane {{ border: none; background: {PANEL}; border-radius: 6px; }}
QTabBar::tab {{ background: {BG}; color: {MUTED}; padding: 6px 14px; border: none; }}
QTabBar::tab:selected {{ color: {ACCENT}; border-bottom: 2px solid {ACCENT}; }}
QPlainTextEdit, QTreeView, QListView, QTableView {{ background: #11181f; border: 1px solid {BORDER}; border-radius: 4px;
    font-family: monospace; font-size: 12px; selection-background-color: #3a2a10; selection-color: {TEXT}; }}
QTableView::item:selected {{ background: #3a2a10; }}
QTableCornerButton::section {{ background: {PANEL}; border: none; }}
QHeaderView::section {{ background: {PANEL}; color: {MUTED}; border: none; padding: 4px; }}
QSplitter::handle {{ background: {BG}; }}
QScrollBar:vertical {{ background: transparent; width: 10px; }}
QScrollBar::handle:vertical {{ background: {BORDER}; border-radius: 4px; min-height: 24px; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; }}
QScrollBar::handle:horizontal {{ background: {BORDER}; border-radius: 4px; min-width: 24px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; width: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
QStatusBar {{ background: {HEADER}; color: {MUTED}; }}
QToolTip {{ background: {PANEL}; color: {TEXT}; border: 1px solid {ACCENT}; }}
"""


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    for role, colour in ((QPalette.Window, BG), (QPalette.Base, "#11181f"), (QPalette.AlternateBase, PANEL),
                         (QPalette.Text, TEXT), (QPalette.WindowText, TEXT), (QPalette.Button, PANEL),
                         (QPalette.ButtonText, TEXT), (QPalette.Highlight, ACCENT),
                         (QPalette.HighlightedText, "#000000"), (QPalette.ToolTipBase, PANEL),
                         (QPalette.ToolTipText, TEXT), (QPalette.PlaceholderText, MUTED)):
        pal.setColor(role, QColor(colour))
    app.setPalette(pal)
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 10.0))
    app.setFont(font)
    app.setStyleSheet(STYLESHEET)
