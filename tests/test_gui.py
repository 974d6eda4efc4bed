"""The desktop window with pytest-qt (offscreen), driving the real pipeline: real source → Lambda process with
real OpenVINO inference → embedded broker → the window's widgets."""

from __future__ import annotations

import json
import os
import time

import psutil
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from gui.app import application, dispose  # noqa: E402
from gui.main_window import MainWindow, source_spec  # noqa: E402
from simulator.config import RunConfig  # noqa: E402
from simulator.ipc.mqtt import MqttLink  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

LAMBDAS = ROOT / "tests" / "lambdas"
STYLE2018, HELLO2017 = LAMBDAS / "style2018", LAMBDAS / "greengrassHelloWorld.py"
WAIT_MS = 60_000


@pytest.fixture
def window(qtbot):
    application()  # the themed QApplication (pytest-qt's qapp, themed once)
    win = MainWindow()
    win.resize(1280, 800)
    win.show()
    yield win
    win.close()
    dispose(win)


@pytest.fixture
def start_tiny(window, tiny_artifacts, video_file):
    """Start the window's device on the test clip with a tiny test Lambda, on free ports."""
    def start(project=STYLE2018, **overrides):
        settings = dict(project=str(project), source=str(video_file), artifacts=tiny_artifacts,
                        mqtt_port=0, http_port=0)
        settings.update(overrides)
        window.start(RunConfig(**settings))
        return window
    return start


def payloads(window) -> list[dict]:
    out = []
    for m in list(window.inspector.model.rows):
        try:
            value = json.loads(m.payload)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def aspect(width: int, height: int) -> float:
    return width / height


def lambda_pid(window) -> int | None:
    device = window.controller.device
    lam = device.status().lambda_ if device is not None else None
    return lam.pid if lam is not None else None


def click_when_ready(qtbot, button) -> None:
    """Click ``button`` once the controller's running job has finished: while a job runs, Deploy and Stop are
    disabled and a click on them does nothing (the job's error or result can reach the window first)."""
    qtbot.waitUntil(button.isEnabled, timeout=WAIT_MS)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.mark.network
def test_window_starts_with_the_demo_and_paints_real_frames(window, qtbot):
    window.start(RunConfig(source="demo", mqtt_port=0, http_port=0))  # the default sample project
    qtbot.waitUntil(lambda: window.thing_label.text() != "", timeout=WAIT_MS)  # device_started arrived
    assert window.thing_label.text() == window.controller.device.thing_name
    assert window.source_picker.current_spec() == "demo"
    assert window.project_picker.current_spec() == "object_detection"

    view = window.project_view
    qtbot.waitUntil(lambda: view.frames_shown >= 3 and window.device_view.frames_shown >= 3, timeout=WAIT_MS)
    pix, (fw, fh) = view.pixmap(), view.frame_size
    assert not pix.isNull()
    assert aspect(pix.width(), pix.height()) == pytest.approx(aspect(fw, fh), rel=0.01)
    rect = view.image_rect()  # letterboxed into the widget with the frame's aspect
    assert aspect(rect.width(), rect.height()) == pytest.approx(aspect(fw, fh), rel=0.01)
    assert rect.width() <= view.width() + 0.5 and rect.height() <= view.height() + 0.5
    dev = window.device_view.pixmap()
    assert aspect(dev.width(), dev.height()) == pytest.approx(16 / 9, rel=0.01)  # the demo clip is 1280x720
    # really painted: inside the image rectangle the picture shows, not the black background or the placeholder
    shot = view.grab().toImage()
    points = [shot.pixelColor(int(rect.left() + rect.width() * (i + 0.5) / 10),
                              int(rect.top() + rect.height() * (j + 0.5) / 10)) for i in range(10) for j in range(10)]
    lit = [c for c in points if c.red() + c.green() + c.blue() > 60]
    assert len(lit) >= 50 and len({c.rgb() for c in points}) > 10  # mostly lit, and not one flat colour

    infer_topic = window.controller.device.infer_topic  # the device's info topic carries messages too
    qtbot.waitUntil(lambda: window.inspector.topics().count(infer_topic) >= 2, timeout=WAIT_MS)
    assert '"' in window.inspector.detail.toPlainText() and "\n" in window.inspector.detail.toPlainText()
    qtbot.waitUntil(lambda: "running" in window.status_panel.text("Lambda"), timeout=WAIT_MS)
    assert window.status_panel.text("Project") == "object_detection"
    qtbot.waitUntil(lambda: any(h[1] for h in window.plot.history), timeout=WAIT_MS)

    window.swap_streams()
    assert window.large_stream() == "device" and window.small_slot.indexOf(window.project_view) == 0
    qtbot.mouseClick(window.project_view, Qt.MouseButton.LeftButton)  # clicking the small one swaps back
    assert window.large_stream() == "project"


def test_switching_project_redeploys_and_new_messages_appear(start_tiny, qtbot):
    window = start_tiny(STYLE2018)
    qtbot.waitUntil(lambda: any(p.get("style") == 2018 for p in payloads(window)), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: lambda_pid(window) is not None, timeout=WAIT_MS)
    first_pid, broker_port = lambda_pid(window), window.controller.device.mqtt_port

    window.project_picker.set_current(str(HELLO2017))
    click_when_ready(qtbot, window.deploy_button)
    qtbot.waitUntil(lambda: any(p.get("style") == 2017 for p in payloads(window)), timeout=WAIT_MS)
    assert window.controller.device.mqtt_port == broker_port  # only the Lambda was swapped
    assert not psutil.pid_exists(first_pid)
    qtbot.waitUntil(lambda: window.status_panel.text("Project") == "greengrassHelloWorld", timeout=WAIT_MS)
    assert "Lambda greengrassHelloWorld started" in window.log_view.plain_text()
    assert any(m.payload == b"Model loaded" for m in window.inspector.model.rows)  # non-JSON payloads too

    click_when_ready(qtbot, window.stop_button)
    qtbot.waitUntil(lambda: "not deployed" in window.status_panel.text("Lambda"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.project_view.pixmap().isNull(), timeout=WAIT_MS)


def test_a_crashing_lambda_shows_its_error_and_restarts(start_tiny, qtbot, monkeypatch):
    monkeypatch.setenv("TEST_CRASH_AFTER", "5")
    window = start_tiny(STYLE2018)
    qtbot.waitUntil(lambda: window.banner.isVisible() and "deliberate crash" in window.banner.text(),
                    timeout=WAIT_MS)
    assert window.banner.level == "error"
    assert "restart #1" in window.banner.text()
    assert "RuntimeError: deliberate crash after 5 frames" in window.log_view.plain_text()
    qtbot.waitUntil(lambda: "restarts so far: 1" in window.log_view.plain_text(), timeout=WAIT_MS)  # restarted
    qtbot.waitUntil(lambda: "restart(s)" in window.status_panel.text("Lambda")
                    and "0 restart(s)" not in window.status_panel.text("Lambda"), timeout=WAIT_MS)
    assert "deliberate crash" in window.status_panel.text("Lambda")


def test_bad_choices_show_errors_and_keep_the_device_running(start_tiny, qtbot, tmp_path):
    window = start_tiny(STYLE2018)
    qtbot.waitUntil(lambda: any(p.get("style") == 2018 for p in payloads(window)), timeout=WAIT_MS)
    device = window.controller.device

    window.source_picker.set_current(str(tmp_path / "missing.mp4"))
    window.source_picker.chosen.emit(str(tmp_path / "missing.mp4"))
    qtbot.waitUntil(lambda: window.banner.level == "error", timeout=WAIT_MS)
    assert "cannot open source" in window.banner.text()
    assert window.controller.device is device  # a typo does not take the running device down
    running = source_spec(device.source_description, device.config.source)
    qtbot.waitUntil(lambda: window.source_picker.current_spec() == running, timeout=WAIT_MS)  # not the typo
    assert window.controller.config.source != str(tmp_path / "missing.mp4")  # a later change starts from what runs

    window.banner.dismiss()
    window.project_picker.set_current(str(tmp_path / "nope.py"))
    click_when_ready(qtbot, window.deploy_button)
    qtbot.waitUntil(lambda: window.banner.level == "error", timeout=WAIT_MS)
    assert "nope.py" in window.banner.text()
    count = window.inspector.received
    qtbot.waitUntil(lambda: window.inspector.received > count + 3, timeout=WAIT_MS)  # the old Lambda runs on


def test_profile_change_restarts_the_device_with_the_project(start_tiny, qtbot):
    window = start_tiny(STYLE2018)
    qtbot.waitUntil(lambda: window.status_panel.text("Profile") == "host", timeout=WAIT_MS)
    window.profile_picker.set_current("raspberry-pi-4")
    window.profile_picker.chosen.emit("raspberry-pi-4")
    qtbot.waitUntil(lambda: window.status_panel.text("Profile") == "raspberry-pi-4", timeout=WAIT_MS)
    count = len([p for p in payloads(window) if p.get("style") == 2018])
    qtbot.waitUntil(lambda: len([p for p in payloads(window) if p.get("style") == 2018]) > count + 2,
                    timeout=WAIT_MS)
    assert window.controller.device.config.profile == "raspberry-pi-4"


def test_inspector_subscribes_to_a_typed_topic_filter(start_tiny, qtbot):
    window = start_tiny(STYLE2018)
    qtbot.waitUntil(lambda: window.controller.device is not None, timeout=WAIT_MS)
    qtbot.keyClicks(window.inspector.filter, "sensors/#")
    qtbot.keyClick(window.inspector.filter, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.controller._tap is not None, timeout=WAIT_MS)
    device = window.controller.device
    link = MqttLink(device.mqtt_host, device.mqtt_port).start()
    try:
        link.publish("sensors/temperature", json.dumps({"celsius": 21.5}))
        link.publish("elsewhere/ignored", b"{}")
        qtbot.waitUntil(lambda: "sensors/temperature" in window.inspector.topics(), timeout=WAIT_MS)
    finally:
        link.stop()
    assert "elsewhere/ignored" not in window.inspector.topics()
    window.inspector.pause.setChecked(True)
    shown = len(window.inspector.model.rows)
    qtbot.waitUntil(lambda: window.inspector.held > 0, timeout=WAIT_MS)
    assert len(window.inspector.model.rows) == shown
    window.inspector.pause.setChecked(False)
    window.inspector.clear()
    assert window.inspector.model.rowCount() == 0


def test_closing_the_window_leaves_no_process_behind(start_tiny, qtbot):
    me = psutil.Process(os.getpid())
    before = {c.pid for c in me.children(recursive=True)}  # e.g. helpers other test files left running
    window = start_tiny(STYLE2018)
    qtbot.waitUntil(lambda: lambda_pid(window) is not None and window.project_view.frames_shown > 0,
                    timeout=WAIT_MS)
    pid, run_dir = lambda_pid(window), window.controller.device.run_dir
    assert pid in [c.pid for c in me.children(recursive=True)]

    window.close()
    assert not psutil.pid_exists(pid)
    assert [c for c in me.children(recursive=True) if c.pid not in before] == []
    assert window.controller.device is None and not window.controller.poller.isRunning()
    assert not run_dir.exists()


def test_a_source_that_will_not_open_is_shown_in_the_window(window, qtbot, tmp_path, tiny_artifacts, video_file):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    window.start(RunConfig(project=str(STYLE2018), source=str(broken), artifacts=tiny_artifacts,
                           mqtt_port=0, http_port=0))
    qtbot.waitUntil(lambda: window.banner.level == "error", timeout=WAIT_MS)
    assert "broken.mp4" in window.banner.text() and window.controller.device is None
    assert "not running" in window.device_view.placeholder
    window.source_picker.set_current(str(video_file))
    window.source_picker.chosen.emit(str(video_file))  # picking one that works brings the device up
    qtbot.waitUntil(lambda: any(p.get("style") == 2018 for p in payloads(window)), timeout=WAIT_MS)


def test_run_gui_runs_for_the_duration_and_stops_everything(tiny_artifacts, video_file):
    from gui.app import run_gui

    me = psutil.Process(os.getpid())
    before = {c.pid for c in me.children(recursive=True)}
    started = time.monotonic()
    code = run_gui(RunConfig(project=str(HELLO2017), source=str(video_file), artifacts=tiny_artifacts,
                             mqtt_port=0, http_port=0), duration=3)
    assert code == 0 and 2.5 < time.monotonic() - started < 30
    assert {c.pid for c in me.children(recursive=True)} <= before


def test_rules_and_cloud_tabs_show_the_cloud_half(start_tiny, qtbot, tmp_path, subscribe):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - ruleName: colours_to_s3\n"
        "    sql: \"SELECT * FROM '$aws/things/+/infer' WHERE style = 2018\"\n"
        "    actions:\n"
        "      - s3: {bucketName: colour-log, key: \"${topic(3)}/latest.json\"}\n")
    window = start_tiny(rules=[rules], cloud_port=0)
    qtbot.waitUntil(lambda: window.rules_panel.table.rowCount() == 1
                    and int(window.rules_panel.table.item(0, 2).text()) > 0, timeout=WAIT_MS)
    assert window.rules_panel.table.item(0, 0).text() == "colours_to_s3"
    # the rules' status list goes out on MQTT, but the Messages tab keeps to the device's messages: the Rules tab
    # shows it; a filter typed for it shows it there too
    device = window.controller.device
    status = subscribe(device.mqtt_port, f"deeplens/{device.thing_name}/rules")
    status.wait_for(lambda m: m[1].startswith(b"[{"), timeout=30)
    qtbot.waitUntil(lambda: any(t.endswith("/infer") for t in window.inspector.topics()), timeout=WAIT_MS)
    assert not [t for t in window.inspector.topics() if "/rules" in t]
    qtbot.keyClicks(window.inspector.filter, "deeplens/+/rules")
    qtbot.keyClick(window.inspector.filter, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: f"deeplens/{device.thing_name}/rules" in window.inspector.topics(), timeout=WAIT_MS)
    assert "s3 → colour-log" in window.rules_panel.table.item(0, 0).toolTip()  # where its action writes
    assert '"style"' in window.rules_panel.table.item(0, 5).text()  # the last output
    # a bad edit is refused on reload: the running rule stays, and the tab says why
    rules.write_text("rules:\n  - ruleNam: typo\n")
    window.rules_panel.reload_button.click()
    qtbot.waitUntil(lambda: "kept the rules" in window.rules_panel.reload_note.text(), timeout=WAIT_MS)
    assert "ruleNam" in window.rules_panel.reload_note.text() and window.rules_panel.table.rowCount() == 1
    count = int(window.rules_panel.table.item(0, 1).text())
    qtbot.waitUntil(lambda: int(window.rules_panel.table.item(0, 1).text()) > count, timeout=WAIT_MS)
    assert "kept the rules" in window.rules_panel.reload_note.text()  # new counts leave the outcome in view
    # the Cloud tab lists the bucket the rule wrote to
    window.tabs.setCurrentWidget(window.cloud_panel)
    qtbot.waitUntil(lambda: "colour-log" in window.cloud_panel.details.toPlainText(), timeout=WAIT_MS)
    assert "1 bucket(s)" in window.cloud_panel.header.text()
