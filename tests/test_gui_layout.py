"""The window's layout (offscreen Qt): wrapped status rows get their height, fleet tiles hold their text below
the picture, stream captions leave the Lambda's own labels alone, long topics keep their end, the Cloud tab
keeps its place across refreshes, and Stop and the error banner follow the Lambda."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSize, Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from gui.app import application, dispose  # noqa: E402
from gui.cloud_panel import CloudPanel  # noqa: E402
from gui.fleet_panel import FleetPanel  # noqa: E402
from gui.inspector import MqttInspector  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.status_panel import format_status  # noqa: E402
from gui.stream_view import StreamView  # noqa: E402
from gui.workers import PROJECT  # noqa: E402
from simulator.broker.embedded import EmbeddedBroker  # noqa: E402
from simulator.cloud.local import LocalCloud  # noqa: E402
from simulator.config import RunConfig  # noqa: E402
from simulator.fleet.info import DeviceInfo  # noqa: E402
from simulator.fleet.topics import info_topic, thumbnail_topic  # noqa: E402
from simulator.ipc.mqtt import MqttLink  # noqa: E402
from simulator.ipc.topics import infer_topic  # noqa: E402
from simulator.message_log import Message  # noqa: E402
from simulator.status import DeviceStatus  # noqa: E402

THING = "deeplens_e7c7f84e-718a-40e7-a3d7-6f6e84582744"  # as long as the names the simulator makes up
WAIT_MS = 60_000


def troubled_status(profile: str = "deeplens", project: str | None = "lambda_function") -> DeviceStatus:
    """A status as /api/status serves it after a hung Lambda was restarted: every long row at once."""
    return DeviceStatus.model_validate({
        "thing_name": THING, "profile": profile, "source": "demo clip", "frame_size": [2688, 1520],
        "camera": {"fps": 25.0, "frames": 900, "dropped": 209, "reconnects": 0},
        "project": project,
        "lambda": {"name": "lambda_function", "state": "restarting", "restarts": 1,
                   "last_error": "hung: no frame read, inference, publish or project-stream frame for 30 s"},
        "startup": {"stage": "starting the Lambda", "detail": "lambda_function", "elapsed_s": 40.0,
                    "first_result_s": 3.1},
        "broker": {"host": "127.0.0.1", "port": 38791, "embedded": True, "infer_topic": f"$aws/things/{THING}/infer"},
        "messages": 18})


@pytest.fixture
def window(qtbot):
    application()  # themed: the fonts and paddings the user sees
    win = MainWindow()
    win.show()
    yield win
    win.close()
    dispose(win)


def fully_shown(label: QLabel) -> bool:
    """The label is as tall as its wrapped text needs and no parent clips any of it."""
    return (label.height() >= label.heightForWidth(label.width())
            and label.visibleRegion().boundingRect() == label.rect())


# -- the Status panel (#3) and the window's minimum size (#12) --------------------------------------------------

def test_every_status_row_is_fully_shown_with_the_banner_at_the_default_size(window, qtbot):
    default = window.size()
    window.thing_label.setText(THING)
    window.banner.show_message("Lambda lambda_function exited with status -9: hung: no progress for 30 s — "
                               "restart #1 in 1 s", "error")
    window.status_panel.update_status(troubled_status())
    qtbot.wait(100)  # the layouts settle
    assert window.size() == default == QSize(1440, 900)  # the window did not grow to make room
    values = window.status_panel.values
    assert values["Topic"].heightForWidth(values["Topic"].width()) > values["Profile"].height()  # it wraps
    clipped = [name for name, label in values.items() if not fully_shown(label)]
    assert clipped == []


def test_the_window_fits_a_laptop_screen_and_the_header_cuts_no_project_name(window, qtbot, tmp_path):
    window.thing_label.setText(THING)
    window.banner.show_message("a problem worth a banner", "error")
    window.status_panel.update_status(troubled_status())
    lambda_file = tmp_path / "lambda_function.py"
    window.project_picker.set_current(str(lambda_file))
    window.resize(1280, 700)  # 1366×768 less the window frame and a panel
    qtbot.wait(100)
    assert window.width() <= 1280 and window.height() <= 700
    picker = window.project_picker
    assert picker.currentText() == "lambda_function.py" and picker.width() >= picker.sizeHint().width()
    thing = window.thing_label
    shown = QLabel.text(thing)  # what the label paints
    assert shown.endswith("…") and thing.toolTip() == THING
    assert thing.fontMetrics().horizontalAdvance(shown) <= thing.width()


# -- the Fleet tile (#4) ----------------------------------------------------------------------------------------

def test_a_fleet_tile_puts_its_text_below_the_picture_and_elides_the_name(qtbot):
    application()
    broker = EmbeddedBroker("127.0.0.1", 0).start()
    link = MqttLink("127.0.0.1", broker.port, client_id="tile-test").start()
    panel = FleetPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    device = SimpleNamespace(mqtt_host="127.0.0.1", mqtt_port=broker.port,
                             new_link=lambda cid: MqttLink("127.0.0.1", broker.port, client_id=cid))
    picture = cv2.imencode(".jpg", np.full((480, 858, 3), 90, np.uint8))[1].tobytes()
    alert = json.dumps({"thing": THING, "people": 1, "was": 0})
    try:
        panel.watch_device(device)
        deadline = time.monotonic() + 20
        while not (THING in panel.tiles and panel.tiles[THING].thumbnail_seq > 0
                   and panel.tiles[THING].alert.isVisible()):
            assert time.monotonic() < deadline, "the panel never showed the thing"
            link.publish(infer_topic(THING), json.dumps({"people": 1}))
            link.publish(f"deeplens/{THING}/alerts", alert)
            link.publish(thumbnail_topic(THING), picture)
            link.publish(info_topic(THING), DeviceInfo(
                thing=THING, profile="raspberry-pi-4", project="people_counter", time=time.time(),
                inference_fps=3.8, expected_fps=4.2, lambda_state="running", restarts=0).model_dump_json(),
                retain=True)
            qtbot.wait(300)
        qtbot.wait(100)
        tile = panel.tiles[THING]
        picture_box = tile.picture.geometry()
        for label in (tile.result, tile.alert, tile.meta):
            assert label.geometry().top() > picture_box.bottom(), label.text()  # below, never over it
            assert fully_shown(label), label.text()
        assert tile.meta.geometry().bottom() <= tile.contentsRect().bottom()
        assert "people_counter on raspberry-pi-4" in tile.meta.text() and "last seen" in tile.meta.text()
        name = QLabel.text(tile.name)  # what it paints
        assert name.endswith("…") and name[:-1] in THING and tile.name.toolTip() == THING
        assert tile.name.fontMetrics().horizontalAdvance(name) <= tile.name.width()
        assert tile.badge.text() == "online" and tile.badge.geometry().right() <= tile.contentsRect().right()
    finally:
        panel.shutdown()
        link.stop()
        broker.stop()


# -- the stream caption (#8) ------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(640, 360), (320, 180), (480, 360)])
def test_the_stream_caption_leaves_the_pictures_top_left_alone(qtbot, size):
    application()
    view = StreamView(PROJECT, "Project stream", "Waiting…")
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    image = QImage(858, 480, QImage.Format.Format_RGB888)
    image.fill(QColor(0, 255, 0))  # what a Lambda's label would be drawn on
    view.set_image(image, 858, 480)
    view.set_image(image, 858, 480)
    shot = view.grab().toImage()
    rect = view.image_rect()
    covered = [(x, y) for x in range(int(rect.left()) + 8, int(rect.left() + rect.width() * 0.55), 3)
               for y in range(int(rect.top()) + 8, int(rect.top() + rect.height() * 0.25), 3)
               if shot.pixelColor(x, y) != QColor(0, 255, 0)]
    assert covered == []
    accent = [(x, y) for x in range(0, shot.width(), 2) for y in range(0, shot.height(), 2)
              if (c := shot.pixelColor(x, y)).red() > 200 and 110 < c.green() < 190 and c.blue() < 60]
    assert len(accent) > 20  # the caption is still drawn, in the accent colour


# -- the MQTT inspector's topic column (#9) ---------------------------------------------------------------------

def test_long_topics_keep_their_end_in_view_and_in_a_tooltip(qtbot):
    application()
    inspector = MqttInspector()
    qtbot.addWidget(inspector)
    inspector.resize(900, 300)
    inspector.show()
    topics = [f"$aws/things/{THING}/infer", f"deeplens/{THING}/info", f"deeplens/{THING}/alerts"]
    inspector.add_messages([Message(i, time.time(), t, b"{}") for i, t in enumerate(topics)])
    table, model = inspector.table, inspector.model
    width = table.columnWidth(1) - 2 * table.style().pixelMetric(table.style().PixelMetric.PM_FocusFrameHMargin) - 8
    for row, topic in enumerate(topics):
        index = model.index(row, 1)
        shown = table.fontMetrics().elidedText(topic, table.textElideMode(), width)
        assert "…" in shown and shown.endswith(topic.rsplit("/", 1)[1])
        assert model.data(index, Qt.ItemDataRole.ToolTipRole) == topic


# -- the Cloud tab (#11) ----------------------------------------------------------------------------------------

@pytest.fixture
def cloud(tmp_path):
    local = LocalCloud(tmp_path / "cloud").start()
    yield local
    local.stop()


def test_cloud_refreshes_keep_the_scroll_positions_and_the_selection(qtbot, cloud):
    application()
    s3, dynamo = cloud.client("s3"), cloud.client("dynamodb")
    s3.create_bucket(Bucket="snapshots")
    jpeg = cv2.imencode(".jpg", np.full((72, 128, 3), 200, np.uint8))[1].tobytes()
    for i in range(20):
        s3.put_object(Bucket="snapshots", Key=f"cam/{i:02d}.jpg", Body=jpeg)
    dynamo.create_table(TableName="people", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    for i in range(8):
        dynamo.put_item(TableName="people", Item={"id": {"S": f"row-{i}"}, "people": {"N": str(i)}})
    panel = CloudPanel()
    qtbot.addWidget(panel)
    panel.resize(520, 420)
    panel.show()
    try:
        panel.set_device(SimpleNamespace(cloud=cloud))
        panel.refresh()
        qtbot.waitUntil(lambda: "Local AWS" in panel.header.text(), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: panel.objects.count() == 20, timeout=WAIT_MS)
        bar, list_bar = panel.details.verticalScrollBar(), panel.objects.verticalScrollBar()
        assert bar.maximum() > 0 and list_bar.maximum() > 0
        bar.setValue(bar.maximum())
        list_bar.setValue(list_bar.maximum())
        panel.objects.setCurrentRow(17)
        chosen, at, list_at = panel.objects.currentItem().toolTip(), bar.value(), list_bar.value()

        dynamo.put_item(TableName="people", Item={"id": {"S": "row-new"}, "people": {"N": "9"}})
        s3.put_object(Bucket="snapshots", Key="cam/notes.txt", Body=b"not an image")
        s3.put_object(Bucket="snapshots", Key="cam/20.jpg", Body=jpeg)  # one more preview: the list is redone
        panel.refresh()
        qtbot.waitUntil(lambda: "22 object(s)" in panel.details.toPlainText(), timeout=WAIT_MS)
        assert panel.objects.count() == 21
        assert bar.value() == at and list_bar.value() == list_at
        assert panel.objects.currentItem() is not None and panel.objects.currentItem().toolTip() == chosen
        panel.refresh()  # a refresh that finds nothing new changes nothing either
        qtbot.waitUntil(lambda: not panel._busy, timeout=WAIT_MS)
        assert bar.value() == at and list_bar.value() == list_at
    finally:
        panel.shutdown()


def test_the_cloud_tab_says_it_is_loading_until_the_first_read_is_done(qtbot, tmp_path):
    application()
    cloud = LocalCloud(tmp_path / "cloud").start(lazy=True)  # as the device starts it: loaded at the first read
    panel = CloudPanel()
    qtbot.addWidget(panel)
    panel.show()
    try:
        panel.set_device(SimpleNamespace(cloud=cloud))
        panel.refresh()
        header = panel.header.text()
        assert "not running" not in header and "loading" in header.lower()  # the first read is on its way
        qtbot.waitUntil(lambda: "Local AWS" in panel.header.text(), timeout=WAIT_MS)
        assert "0 bucket(s)" in panel.header.text() and panel.details.toPlainText() == "Nothing stored yet."
    finally:
        panel.shutdown()
        cloud.stop()


# -- the Pacing row (#13) ---------------------------------------------------------------------------------------

def test_pacing_says_unpaced_only_for_the_host_profile():
    assert format_status(troubled_status("host"))["Pacing"] == "unpaced (host)"
    waiting = format_status(troubled_status("deeplens"))["Pacing"]
    assert "host" not in waiting and "waiting for the model" in waiting
    assert format_status(troubled_status("deeplens", project=None))["Pacing"] == "–"


# -- Stop, the error banner after a recovery (#18) --------------------------------------------------------------

CRASHES_ONCE = """\
import json
import os
import time

import awscam
import greengrasssdk

MARKER = {marker!r}
client = greengrasssdk.client('iot-data')
topic = '$aws/things/{{}}/infer'.format(os.environ['AWS_IOT_THING_NAME'])
first_run = not os.path.exists(MARKER)
frames = 0
while True:
    ret, frame = awscam.getLastFrame()
    frames += 1
    if first_run and frames > 3:
        open(MARKER, 'w').close()
        raise RuntimeError('the first run fails')
    client.publish(topic=topic, payload=json.dumps({{'frames': frames}}))
    time.sleep(0.05)
"""


def test_the_banner_recovers_and_stop_follows_what_is_deployed(window, qtbot, tmp_path, video_file, tiny_artifacts):
    project = tmp_path / "crashes_once"
    project.mkdir()
    lambda_file = project / "lambda_function.py"
    lambda_file.write_text(CRASHES_ONCE.format(marker=str(tmp_path / "crashed")))
    window.start(RunConfig(project=str(lambda_file), source=str(video_file), artifacts=tiny_artifacts,
                           mqtt_port=0, http_port=0))
    qtbot.waitUntil(lambda: "the first run fails" in window.banner.text(), timeout=WAIT_MS)
    assert window.banner.level == "error"
    # the second run publishes: the banner no longer says the Lambda is failing
    qtbot.waitUntil(lambda: "the first run fails" not in window.banner.text(), timeout=WAIT_MS)
    assert not window.banner.isVisible() or "recovered" in window.banner.text()
    assert Path(tmp_path / "crashed").exists()
    qtbot.waitUntil(lambda: window.stop_button.isEnabled(), timeout=WAIT_MS)

    window.stop_button.click()
    qtbot.waitUntil(lambda: "not deployed" in window.status_panel.text("Lambda"), timeout=WAIT_MS)
    qtbot.waitUntil(window.deploy_button.isEnabled, timeout=WAIT_MS)  # the controller is idle again
    qtbot.wait(700)  # a status or two more
    assert not window.stop_button.isEnabled()  # nothing left to stop
    window.deploy_button.click()
    qtbot.waitUntil(lambda: window.stop_button.isEnabled() and "running" in window.status_panel.text("Lambda"),
                    timeout=WAIT_MS)
