"""Pickers for the source, the hardware profile and the project. Each emits ``chosen(spec)`` when the user picks
something usable; entries ending in "…" ask for a file, a folder or a URL first (and fall back on cancel)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QInputDialog, QSizePolicy, QWidget

from simulator.profiles import available_profiles
from simulator.projects import available_projects

ASK = "ask:"  # item data prefix of the entries that open a dialog
MAX_LABEL = 32  # longer names are shortened in the middle (the whole spec is the item's tooltip)


def shortened(label: str, limit: int = MAX_LABEL) -> str:
    """``label``, or its start and end around "…" when it is longer than ``limit`` characters."""
    if len(label) <= limit:
        return label
    keep = limit - 1
    return label[:keep - keep // 2] + "…" + label[len(label) - keep // 2:]


class SpecPicker(QComboBox):
    """A combo box whose items carry specs; ``ask:`` items run a dialog that yields a new spec."""

    chosen = Signal(str)

    def __init__(self, fixed: list[tuple[str, str]], asks: list[tuple[str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setMinimumContentsLength(10)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # never squeezed: names stay whole
        for label, spec in fixed:
            self.addItem(label, spec)
        if asks:
            self.insertSeparator(self.count())
            for label, kind in asks:
                self.addItem(label, ASK + kind)
        self._previous = 0
        self.activated.connect(self._on_activated)

    def current_spec(self) -> str | None:
        spec = self.currentData()
        return None if spec is None or str(spec).startswith(ASK) else str(spec)

    def set_current(self, spec: str, label: str | None = None) -> None:
        """Select ``spec``, adding it (above the dialog entries) if it is new. Does not emit ``chosen``."""
        index = self.findData(spec)
        if index < 0:
            index = self._first_ask_index()
            self.insertItem(index, shortened(label or self.label_for(spec)), spec)
            self.setItemData(index, spec, Qt.ItemDataRole.ToolTipRole)
        self.setCurrentIndex(index)
        self._previous = index

    def label_for(self, spec: str) -> str:
        return Path(spec).name or spec

    def ask(self, kind: str) -> str | None:  # noqa: ARG002 - overridden
        return None

    def _first_ask_index(self) -> int:
        for i in range(self.count()):
            if str(self.itemData(i) or "").startswith(ASK):
                return max(0, i - 1)  # before the separator
        return self.count()

    def _on_activated(self, index: int) -> None:
        spec = str(self.itemData(index) or "")
        if spec.startswith(ASK):
            spec = self.ask(spec[len(ASK):]) or ""
            if not spec:
                self.setCurrentIndex(self._previous)
                return
            self.set_current(spec)
        elif not spec:
            return
        self._previous = self.currentIndex()
        self.chosen.emit(spec)


class SourcePicker(SpecPicker):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__([("Demo clip", "demo"), ("Test pattern", "pattern")],
                         [("Video or image file…", "file"), ("Folder of images…", "folder"),
                          ("Stream URL…", "url")], parent)
        self.setToolTip("Camera source: webcams found, the demo clip, a test pattern, a file, a folder or a URL")

    def set_webcams(self, indices: list[int]) -> None:
        for i in indices:
            if self.findData(str(i)) < 0:
                self.insertItem(0, f"Webcam {i}", str(i))
                self._previous = self.currentIndex()

    def label_for(self, spec: str) -> str:
        if spec.isdigit():
            return f"Webcam {spec}"
        if "://" in spec:
            return spec
        return super().label_for(spec)

    def ask(self, kind: str) -> str | None:
        if kind == "file":
            return QFileDialog.getOpenFileName(self, "Open a video or image", "",
                                               "Video and images (*.mp4 *.avi *.mkv *.mov *.webm *.jpg *.jpeg "
                                               "*.png *.bmp);;All files (*)")[0]
        if kind == "folder":
            return QFileDialog.getExistingDirectory(self, "Open a folder of images")
        url, ok = QInputDialog.getText(self, "Stream URL", "rtsp:// or http:// URL of the stream:")
        return url.strip() if ok else None


class ProfilePicker(SpecPicker):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__([(name, name) for name in available_profiles()], [("Profile file…", "file")], parent)
        self.setToolTip("Hardware profile: which device the simulator pretends to be (camera format, speed)")

    def ask(self, kind: str) -> str | None:
        return QFileDialog.getOpenFileName(self, "Open a hardware profile", "", "Profiles (*.yaml *.yml)")[0]

    def label_for(self, spec: str) -> str:
        return Path(spec).stem


class ProjectPicker(SpecPicker):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__([(name, name) for name in available_projects()],
                         [("Open a Lambda file…", "file"), ("Open a project folder…", "folder")], parent)
        self.setToolTip("Project: a sample, a Lambda file or a project folder; Deploy runs it on the device")

    def ask(self, kind: str) -> str | None:
        if kind == "file":
            return QFileDialog.getOpenFileName(self, "Open a Lambda file", "", "Python (*.py)")[0]
        return QFileDialog.getExistingDirectory(self, "Open a project folder")
