"""The Kinesis Video tab of the window (offscreen Qt): it lists the recorded streams and segments, shows the first
frame of the latest segment, and opens the selected one through the desktop's URL handler."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QObject, QUrl, Slot  # noqa: E402
from PySide6.QtGui import QDesktopServices  # noqa: E402

from gui.kvs_view import KvsView  # noqa: E402
from simulator.kvs import layout  # noqa: E402
from simulator.kvs.encoder import SegmentWriter  # noqa: E402


def record(folder, name: str, colour: tuple[int, int, int], size=(640, 360)) -> None:
    writer = SegmentWriter(folder / name, size[0], size[1], fps=15)
    for i in range(20):
        writer.write(np.full((size[1], size[0], 3), colour, np.uint8), i * 66_666_667)
    writer.close()


class UrlCatcher(QObject):
    """Stands where the desktop's file handler would be (Qt's own hook for ``file:`` URLs)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url)


def test_the_tab_lists_segments_previews_the_latest_and_opens_it(qtbot, tmp_path):
    view = KvsView()
    qtbot.addWidget(view)
    view.set_artifacts(tmp_path)
    view.show()
    qtbot.waitUntil(lambda: "No Kinesis Video stream recorded yet" in view.header.text(), timeout=5000)
    assert not view.open_button.isEnabled()

    folder = layout.stream_folder(tmp_path, "myStream")
    folder.mkdir(parents=True)
    record(folder, "20260101T000000.000Z.mp4", (255, 0, 0))     # blue (BGR)
    record(folder, "20260101T000010.000Z.mp4", (0, 0, 255))     # red: the latest
    for i, name in enumerate(sorted(os.listdir(folder))):
        os.utime(folder / name, (time.time() - 20 + 10 * i,) * 2)
    view.refresh()
    qtbot.waitUntil(lambda: view.segments.count() == 2 and view.preview.pixmap() is not None
                    and not view.preview.pixmap().isNull(), timeout=10000)
    assert view.streams.count() == 1 and view.streams.item(0).text() == "myStream"
    assert "myStream: stopped, 2 segment(s)" in view.header.text()
    assert view.selected_path() == folder / "20260101T000010.000Z.mp4"  # newest first, selected
    image = view.preview.pixmap().toImage()
    assert (image.width(), image.height()) == (640, 360)
    pixel = image.pixelColor(320, 180)
    assert pixel.red() > 200 and pixel.blue() < 60  # the first frame of the red segment
    assert "640×360 · H.264" in view.details.text()

    view.segments.setCurrentRow(1)  # the older one: its own first frame
    qtbot.waitUntil(lambda: view.preview.pixmap().toImage().pixelColor(320, 180).blue() > 200, timeout=10000)

    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        assert view.open_selected()
        assert view.open_folder()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in catcher.opened] == [str(folder / "20260101T000000.000Z.mp4"), str(folder)]
    view.shutdown()


def test_a_segment_without_frames_says_so(qtbot, tmp_path):
    folder = layout.stream_folder(tmp_path, "cam")
    folder.mkdir(parents=True)
    (folder / "20260101T000000.000Z.mp4").write_bytes(b"\0" * 100)
    view = KvsView()
    qtbot.addWidget(view)
    view.set_artifacts(tmp_path)
    view.show()
    qtbot.waitUntil(lambda: view.preview.text().startswith("Cannot decode 20260101T000000.000Z.mp4"), timeout=10000)
    view.shutdown()


def test_the_segment_list_is_as_wide_as_its_lines(qtbot, tmp_path):
    from gui.app import application

    application()  # themed: the list's monospace font decides the width
    folder = layout.stream_folder(tmp_path, "qaStream")
    folder.mkdir(parents=True)
    start = int(time.time()) - 3600
    for i in range(8):  # 10 s segments of about 1.2 MB, as a 720p stream records them
        name = time.strftime("%Y%m%dT%H%M%S.000Z.mp4", time.gmtime(start + 10 * i))
        (folder / name).write_bytes(b"\0" * (1_236_000 + 100_000 * i))
        os.utime(folder / name, (start + 10 * i + 10,) * 2)
    view = KvsView()
    qtbot.addWidget(view)
    view.resize(915, 290)  # the tab's size in a 1280 × 700 window
    view.set_artifacts(tmp_path)
    view.show()
    qtbot.waitUntil(lambda: view.segments.count() == 8, timeout=10000)
    qtbot.wait(100)  # the splitter lays out the new minimum
    lst = view.segments
    labels = [lst.item(i).text() for i in range(lst.count())]
    assert all(" · 10 s · " in label and label.endswith(" kB") for label in labels), labels
    widest = max(lst.fontMetrics().horizontalAdvance(label) for label in labels)
    assert widest <= lst.viewport().width() and lst.horizontalScrollBar().maximum() == 0  # no line is cut
    assert view.preview.width() >= view.preview.minimumWidth()  # the preview keeps its room
    view.grab().save(str(tmp_path / "kvs.png"))
    view.shutdown()
