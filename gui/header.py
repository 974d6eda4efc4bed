"""The window's top bar: the title, the thing name (elided, whole in its tooltip), the source, profile and
project pickers, Deploy and Stop."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from gui.elided_label import ElidedLabel
from gui.pickers import ProfilePicker, ProjectPicker, SourcePicker
from simulator.projects import DEFAULT_PROJECT

DEFAULT_PROFILE = "host"


class Header(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="header")
        self.source_picker, self.profile_picker, self.project_picker = SourcePicker(), ProfilePicker(), ProjectPicker()
        self.profile_picker.set_current(DEFAULT_PROFILE)  # what a start without choices runs
        self.project_picker.set_current(DEFAULT_PROJECT)
        self.deploy_button = QPushButton("Deploy", objectName="primary")
        self.deploy_button.setToolTip("Run the chosen project on the device (replaces the running Lambda)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the running Lambda (camera and broker keep running)")
        self.thing_label = ElidedLabel("", objectName="thing")
        bar = QHBoxLayout(self)
        bar.setContentsMargins(14, 8, 14, 8)
        bar.addWidget(QLabel("DeepLens simulator", objectName="appTitle"))
        bar.addWidget(self.thing_label, 1)
        for text, picker in (("Source", self.source_picker), ("Profile", self.profile_picker),
                             ("Project", self.project_picker)):
            bar.addSpacing(8)
            bar.addWidget(QLabel(text, objectName="key"))
            bar.addWidget(picker)
        bar.addSpacing(4)
        bar.addWidget(self.deploy_button)
        bar.addWidget(self.stop_button)
