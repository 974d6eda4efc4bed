"""The Cloud tab: what the local AWS holds — buckets with their objects (images previewed), tables with their
latest items, messages sent to SNS topics and SQS queues. Read every few seconds while the tab is shown, on a
worker thread (the first read loads the local cloud if no AWS call has yet). A refresh changes only what changed:
the scroll positions and the selected object stay."""

from __future__ import annotations

import html
import json
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QItemSelectionModel, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QSplitter, QTextBrowser, QVBoxLayout, QWidget

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
REFRESH_MS = 3000
THUMBNAILS = 24
LOADING = "Loading the local cloud…"


class _Reader(QObject):
    done = Signal(object, object)  # (CloudSnapshot or None, {(bucket, key): bytes}) or (None, error text)


class CloudPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.device = None
        self.header = QLabel("The local cloud is not running.")
        self.header.setWordWrap(True)
        self.objects = QListWidget()
        self.objects.setViewMode(QListWidget.ViewMode.IconMode)
        self.objects.setIconSize(QSize(128, 72))
        self.objects.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.details = QTextBrowser()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.objects)
        split.addWidget(self.details)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(split, 1)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gui-cloud")
        self._reader = _Reader()
        self._reader.done.connect(self._show)
        self._busy = False
        self._thumbs: dict[tuple[str, str], bytes] = {}
        self._html = ""
        self._read_once = False  # a snapshot has been shown since the device was set
        self.timer = QTimer(self, interval=REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

    def set_device(self, device) -> None:
        self.device, self._read_once = device, False
        self.header.setText(LOADING if device is not None else "The device is stopped.")

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

    def refresh(self) -> None:
        device = self.device
        if self._busy or device is None:
            return
        cloud = device.cloud
        if cloud is None:
            self.header.setText("The local cloud is off (--cloud aws): the Lambdas' boto3 calls go to real AWS.")
            return
        self._busy = True
        if not self._read_once:
            self.header.setText(LOADING)
        self._pool.submit(self._read, cloud)

    def _read(self, cloud) -> None:
        try:
            snap = cloud.snapshot()
            thumbs = {}
            for bucket in snap.buckets:
                for obj in bucket.objects:
                    key = (bucket.name, obj.key)
                    if obj.key.lower().endswith(IMAGE_SUFFIXES) and len(thumbs) < THUMBNAILS:
                        thumbs[key] = self._thumbs.get(key) or cloud.get_object(bucket.name, obj.key)
            self._reader.done.emit(snap, thumbs)
        except Exception as exc:  # noqa: BLE001 - shown in the tab, never lost on a worker thread
            self._reader.done.emit(None, f"{type(exc).__name__}: {exc}")

    def _show(self, snap, extra) -> None:
        self._busy = False
        if snap is None:
            self.header.setText(f"Cannot read the local cloud: {extra}")
            return
        self._thumbs, self._read_once = extra, True
        self.header.setText(f"Local AWS at {snap.endpoint} ({snap.region}): {len(snap.buckets)} bucket(s), "
                            f"{len(snap.tables)} table(s), {len(snap.topics)} topic(s), {len(snap.queues)} queue(s)")
        self._show_objects(extra)
        self._show_details(details_html(snap))

    def _show_objects(self, thumbs: dict[tuple[str, str], bytes]) -> None:
        """The image previews; rebuilt only when the set changed, keeping the selection and the scroll position."""
        tips = [f"s3://{bucket}/{key}" for bucket, key in thumbs]
        if tips == [self.objects.item(i).toolTip() for i in range(self.objects.count())]:
            return
        current = self.objects.currentItem()
        chosen = current.toolTip() if current is not None else None
        bar = self.objects.verticalScrollBar()
        at = bar.value()
        self.objects.setUpdatesEnabled(False)
        self.objects.clear()
        for tip, data in zip(tips, thumbs.values(), strict=True):
            image = QImage.fromData(data)
            item = QListWidgetItem(QIcon(QPixmap.fromImage(image)) if not image.isNull() else QIcon(),
                                   tip.rsplit("/", 1)[-1])
            item.setToolTip(tip)
            self.objects.addItem(item)
            if tip == chosen:
                self.objects.setCurrentItem(item, QItemSelectionModel.SelectionFlag.NoUpdate)
                item.setSelected(True)
        self.objects.doItemsLayout()  # the new scroll range, before the old position is put back
        bar.setValue(at)
        self.objects.setUpdatesEnabled(True)

    def _show_details(self, text: str) -> None:
        """The buckets' and tables' text; replaced only when it changed, at the same scroll position."""
        if text == self._html:
            return
        self._html = text
        bar = self.details.verticalScrollBar()
        at = bar.value()
        self.details.setHtml(text)
        bar.setValue(at)


def details_html(snap) -> str:
    """Buckets with their newest objects, tables with their latest items, SNS and SQS messages, as HTML."""
    parts = []
    for b in snap.buckets:
        parts.append(f"<h4>s3://{html.escape(b.name)} — {b.object_count} object(s)</h4>")
        parts += [f"<div>{html.escape(o.key)} ({o.size:,} B)</div>" for o in b.objects[:10]]
    for t in snap.tables:
        parts.append(f"<h4>DynamoDB {html.escape(t.name)} — {t.item_count} item(s)</h4>")
        parts += [f"<pre>{html.escape(json.dumps(i))}</pre>" for i in t.items[:8]]
    for topic in snap.topics:
        parts.append(f"<h4>SNS {html.escape(topic.name)}</h4>")
        parts += [f"<pre>{html.escape(m.body)}</pre>" for m in topic.messages[:8]]
    for q in snap.queues:
        parts.append(f"<h4>SQS {html.escape(q.name)} — {q.waiting} waiting</h4>")
        parts += [f"<pre>{html.escape(m.body)}</pre>" for m in q.messages[:8]]
    return "".join(parts) or "Nothing stored yet."
