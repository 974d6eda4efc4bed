"""The Kinesis Video tab: the streams a Lambda recorded with ``DeepLens_Kinesis_Video``, their segments, the first
frame of the selected (by default the latest) segment, and buttons that open the segment or its folder in the
desktop's own player and file manager.

PySide6-Essentials has no Qt Multimedia (``QMediaPlayer`` is in PySide6-Addons), so the tab shows a still frame,
decoded with PyAV, instead of playing the video inline. The folder is read every few seconds while the tab is
shown, on a worker thread.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.workers import to_qimage
from simulator.kvs import catalog

REFRESH_MS = 3000
PREVIEW_BOX = (640, 360)


def first_frame(path: Path) -> np.ndarray:
    """The first frame of a video file as BGR uint8 (PyAV). ValueError if it holds none yet."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="bgr24")
    raise ValueError(f"{path.name} holds no frame yet")


class _Reader(QObject):
    listed = Signal(object, object, object)  # (streams, segments of the shown stream, latest) or (None, error, None)
    previewed = Signal(str, object)   # (path, BGR image or error text)


class KvsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.artifacts: Path | None = None
        self.header = QLabel("No Kinesis Video stream recorded yet.")
        self.header.setWordWrap(True)
        self.streams = QListWidget()
        self.segments = QListWidget()
        self.preview = QLabel("No segment")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(320, 180)
        self.preview.setStyleSheet("background:#000; color:#8b98a5;")
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Play the segment in the desktop's video player")
        self.folder_button = QPushButton("Open folder")
        self.open_button.setEnabled(False)
        self.folder_button.setEnabled(False)

        lists = QSplitter(Qt.Orientation.Vertical)
        lists.addWidget(self.streams)
        lists.addWidget(self.segments)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.preview, 1)
        column.addWidget(self.details)
        column.addLayout(buttons)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(lists)
        split.addWidget(right)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(split, 1)

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gui-kvs")
        self._reader = _Reader()
        self._reader.listed.connect(self._show_listing)
        self._reader.previewed.connect(self._show_preview)
        self._busy = False
        self._again = False
        self._stream: str | None = None
        self._previewed: tuple[str, float] | None = None  # (path, mtime) of the frame shown
        self._paths: dict[str, Path] = {}
        self.streams.currentTextChanged.connect(self._stream_chosen)
        self.segments.currentItemChanged.connect(lambda *_: self._preview_selected())
        self.open_button.clicked.connect(self.open_selected)
        self.folder_button.clicked.connect(self.open_folder)
        self.timer = QTimer(self, interval=REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

    # --- wiring -------------------------------------------------------------------------------------------

    def set_device(self, device) -> None:
        """Show the recordings of ``device``'s artifacts folder (they stay listed after the device stops)."""
        if device is not None:
            self.set_artifacts(device.artifacts)

    def set_artifacts(self, artifacts: Path | None) -> None:
        self.artifacts = Path(artifacts) if artifacts is not None else None
        self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.timer.start()
        self.refresh()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.timer.stop()

    def shutdown(self) -> None:
        self.timer.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # --- reading (worker thread) ---------------------------------------------------------------------------

    def refresh(self) -> None:
        if self._busy or self.artifacts is None:
            return
        self._busy = True
        self._pool.submit(self._list, self.artifacts, self._stream)

    def _list(self, artifacts: Path, stream: str | None) -> None:
        try:
            streams = catalog.streams(artifacts)
            names = [s.name for s in streams]
            shown = stream if stream in names else (names[0] if names else None)
            segments = catalog.segments(artifacts, shown) if shown is not None else []
            latest = catalog.latest_segment(artifacts, shown) if shown is not None else None
            self._reader.listed.emit(streams, segments, latest)
        except Exception as exc:  # noqa: BLE001 - shown in the tab, never lost on a worker thread
            self._reader.listed.emit(None, f"{type(exc).__name__}: {exc}", None)

    def _decode(self, path: Path) -> None:
        try:
            self._reader.previewed.emit(str(path), first_frame(path))
        except ImportError:
            self._reader.previewed.emit(str(path), "Install PyAV (pip install av==18.1.0) to preview segments")
        except Exception as exc:  # noqa: BLE001 - an unreadable file is said in the preview
            self._reader.previewed.emit(str(path), f"Cannot decode {path.name}: {exc}")

    # --- showing (GUI thread) --------------------------------------------------------------------------------

    def _show_listing(self, streams, segments, latest) -> None:
        self._busy = False
        if self._again:
            self._again = False
            self.refresh()  # the stream shown changed while this was read
            return
        if streams is None:
            self.header.setText(f"Cannot read the Kinesis Video recordings: {segments}")
            return
        if not streams:
            self.header.setText(f"No Kinesis Video stream recorded yet (a Lambda's DeepLens_Kinesis_Video streams "
                                f"are recorded under {self.artifacts}/kinesis-video/).")
        names = [s.name for s in streams]
        if [self.streams.item(i).text() for i in range(self.streams.count())] != names:
            self.streams.blockSignals(True)
            self.streams.clear()
            self.streams.addItems(names)
            self.streams.blockSignals(False)
        shown = self._stream if self._stream in names else (names[0] if names else None)
        self._stream = shown
        if shown is not None:
            self.streams.blockSignals(True)
            self.streams.setCurrentRow(names.index(shown))
            self.streams.blockSignals(False)
            info = streams[names.index(shown)]
            state = "recording" if info.recording else "stopped"
            counts = f", {info.frames} frames, {info.dropped} dropped" if info.frames or info.recording else ""
            cloud = {"local": f", {info.uploaded} uploaded to the local S3", "aws": ", local only (real AWS)"}
            self.header.setText(f"{len(streams)} stream(s). {info.name}: {state}, {info.segments} segment(s), "
                                f"{info.size / 1e6:.1f} MB{counts}{cloud.get(info.cloud, '')}"
                                + (f" — {info.error}" if info.error else ""))
        self._fill_segments(segments, latest)

    def _fill_segments(self, segments, latest: Path | None) -> None:
        selected = self.segments.currentItem().text() if self.segments.currentItem() is not None else None
        newest_first = list(reversed(segments))
        self._paths = {self._label(s): s.path for s in newest_first}
        labels = list(self._paths)
        if [self.segments.item(i).text() for i in range(self.segments.count())] != labels:
            self.segments.blockSignals(True)
            self.segments.clear()
            for s, label in zip(newest_first, labels, strict=True):
                item = QListWidgetItem(label)
                item.setToolTip(str(s.path))
                self.segments.addItem(item)
            self.segments.blockSignals(False)
            self._fit_segments()
        keep = next((i for i, label in enumerate(labels) if label == selected), None)
        if keep is None and labels:
            keep = next((i for i, label in enumerate(labels) if self._paths[label] == latest), 0)
        self.segments.blockSignals(True)
        self.segments.setCurrentRow(keep if keep is not None else -1)
        self.segments.blockSignals(False)
        self.open_button.setEnabled(bool(labels))
        self.folder_button.setEnabled(self._stream is not None)
        self._preview_selected()

    def _fit_segments(self) -> None:
        """The segment list at least as wide as its widest line (date, length, size, state), its scroll bar and
        frame included: the splitter gives it that much, so no line is cut."""
        lst = self.segments
        lst.ensurePolished()  # the style sheet's font decides the width
        bar = lst.verticalScrollBar().sizeHint().width()
        lst.setMinimumWidth(max(0, lst.sizeHintForColumn(0)) + 2 * lst.frameWidth() + bar + 4)

    @staticmethod
    def _label(segment) -> str:
        start = segment.start.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        seconds = max(0.0, (segment.end - segment.start).total_seconds())
        growing = " · recording" if segment.recording else ""
        return f"{start} · {seconds:.0f} s · {segment.size / 1e3:.0f} kB{growing}"

    def selected_path(self) -> Path | None:
        item = self.segments.currentItem()
        return self._paths.get(item.text()) if item is not None else None

    def _preview_selected(self) -> None:
        path = self.selected_path()
        if path is None:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("No segment")
            self.details.clear()
            self._previewed = None
            return
        try:
            key = (str(path), path.stat().st_mtime)
        except FileNotFoundError:
            return
        if key != self._previewed:
            self._previewed = key
            self._pool.submit(self._decode, path)
        self.details.setText(f"{path.name}\n{path.parent}")

    def _show_preview(self, path: str, result) -> None:
        if self._previewed is None or self._previewed[0] != path:
            return  # another segment was chosen meanwhile
        if isinstance(result, str):
            self.preview.setPixmap(QPixmap())
            self.preview.setText(result)
            return
        h, w = result.shape[:2]
        self.preview.setPixmap(QPixmap.fromImage(to_qimage(result, PREVIEW_BOX)))
        self.details.setText(f"{Path(path).name} · {w}×{h} · H.264\n{Path(path).parent}")

    def _stream_chosen(self, name: str) -> None:
        if name and name != self._stream:
            self._stream = name
            self.segments.clear()
            self._again = self._busy  # a read of the other stream is under way: read again when it is done
            self.refresh()

    # --- actions ----------------------------------------------------------------------------------------------

    def open_selected(self) -> bool:
        """Open the selected segment in the desktop's video player (False if none or the desktop refused)."""
        path = self.selected_path()
        return path is not None and QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def open_folder(self) -> bool:
        if self.artifacts is None or self._stream is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.artifacts / "kinesis-video" / self._stream)))
