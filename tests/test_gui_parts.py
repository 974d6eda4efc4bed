"""The window's parts on their own: frame polling drops instead of queueing, batching across threads,
aspect-correct scaling, and the small formatters and painters."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6")

from gui.inspector import MqttInspector, pretty_payload  # noqa: E402
from gui.latency_plot import LatencyPlot, nice_ceiling  # noqa: E402
from gui.log_view import LambdaLog, describe_event  # noqa: E402
from gui.status_panel import format_status  # noqa: E402
from gui.workers import DEVICE, PROJECT, FramePoller, SignalBatcher, to_qimage  # noqa: E402
from simulator.events import LambdaRestarting  # noqa: E402
from simulator.ipc.frames import Frame  # noqa: E402
from simulator.message_log import Message  # noqa: E402
from simulator.status import DeviceStatus  # noqa: E402


class FakeDevice:
    """Hands out a new device frame and a new project JPEG on every poll, as a fast camera would."""

    def __init__(self) -> None:
        self.n = 0
        self.image = np.zeros((720, 1280, 3), np.uint8)
        self.jpeg = cv2.imencode(".jpg", np.full((480, 858, 3), 200, np.uint8))[1].tobytes()
        self.telemetry = SimpleNamespace(history=deque([(time.time(), 5.0, None)]))

    def device_frame(self) -> Frame:
        self.n += 1
        return Frame(self.image, time.time_ns(), self.n)

    def project_jpeg(self) -> tuple[int, bytes]:
        return self.n, self.jpeg

    def status(self) -> dict:
        return {"profile": "host"}


def test_to_qimage_keeps_the_aspect_when_shrinking():
    image = np.zeros((1520, 2688, 3), np.uint8)
    image[:, :, 2] = 255  # red in BGR
    q = to_qimage(image, (640, 640))
    assert (q.width(), q.height()) == (640, 362)
    assert q.pixelColor(10, 10).red() == 255 and q.pixelColor(10, 10).blue() == 0
    assert (to_qimage(image[:100, :200]).width(), to_qimage(image[:100, :200], (800, 800)).height()) == (200, 100)


def test_poller_drops_frames_until_the_last_one_was_shown(qtbot):
    poller = FramePoller(fps=100)
    got: list[tuple[str, int, int]] = []
    statuses: list[dict] = []
    poller.frame.connect(lambda stream, image, w, h: got.append((stream, w, h)))
    poller.status.connect(lambda status, history: statuses.append(status))
    poller.set_target_size(PROJECT, 429, 240)
    poller.set_device(FakeDevice())
    poller.start()
    try:
        # polls keep bringing new frames, but nobody acknowledges the first ones: the rest are dropped
        qtbot.waitUntil(lambda: poller.dropped[DEVICE] > 10 and poller.dropped[PROJECT] > 10 and bool(statuses),
                        timeout=5000)
        assert sorted(got) == [(DEVICE, 1280, 720), (PROJECT, 858, 480)]
        assert statuses[0]["profile"] == "host"
        poller.frame_shown(DEVICE)
        qtbot.waitUntil(lambda: len([g for g in got if g[0] == DEVICE]) == 2, timeout=2000)
        dropped = poller.dropped[DEVICE]
        qtbot.waitUntil(lambda: poller.dropped[DEVICE] > dropped + 5, timeout=5000)  # more polls, none shown
        assert len([g for g in got if g[0] == DEVICE]) == 2
        poller.set_device(None)
    finally:
        poller.stop()
    assert not poller.isRunning()


def test_batcher_hands_items_from_threads_to_the_gui_in_few_bounded_batches(qtbot):
    batcher = SignalBatcher(maxlen=100, interval_ms=50)
    batches: list[list] = []
    batcher.batch.connect(batches.append)
    threads = [threading.Thread(target=lambda k=k: [batcher.push((k, i)) for i in range(500)]) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    qtbot.waitUntil(lambda: sum(map(len, batches)) + batcher.dropped == 2000, timeout=3000)
    assert len(batches) < 20 and all(len(b) <= 100 for b in batches)
    assert batcher.dropped >= 1900 - 100 * (len(batches) - 1)


def test_inspector_pretty_prints_pauses_and_copies(qtbot):
    inspector = MqttInspector()
    qtbot.addWidget(inspector)
    messages = [Message(i, time.time(), "$aws/things/t/infer", json.dumps({"cat": 0.5 + i / 100}).encode())
                for i in range(3)]
    inspector.add_messages(messages)
    assert inspector.model.rowCount() == 3
    assert inspector.detail.toPlainText().endswith('{\n  "cat": 0.52\n}')  # the newest, pretty-printed
    inspector.table.selectRow(0)
    assert '"cat": 0.5\n' in inspector.detail.toPlainText()
    inspector.copy()
    from PySide6.QtGui import QGuiApplication

    assert "$aws/things/t/infer" in QGuiApplication.clipboard().text()
    inspector.pause.setChecked(True)
    inspector.add_messages(messages)
    assert inspector.model.rowCount() == 3 and inspector.held == 3 and "held" in inspector.count.text()
    assert pretty_payload(b"Opened Pipe") == "Opened Pipe"
    assert pretty_payload(b"\xff\xd8\xff") .startswith("<3 bytes of binary data")


def test_log_view_shows_lines_and_supervisor_notes(qtbot):
    log = LambdaLog()
    qtbot.addWidget(log)
    crash = LambdaRestarting(lambda_="lf", exit_code=1, error="RuntimeError: boom", ran_seconds=3.0, restarts=2,
                             delay=2.0)
    log.add_batch([("stdout", "hello"), ("stderr", "Traceback (most recent call last):"), ("event", crash)])
    text = log.plain_text()
    assert "hello" in text and "Traceback" in text
    assert describe_event(crash) in text and "restart #2 in 2 s" in text


def test_latency_plot_paints_the_last_minute(qtbot):
    plot = LatencyPlot()
    qtbot.addWidget(plot)
    plot.resize(320, 160)
    now = time.time()
    plot.set_history([(now - 90, 50.0, 80.0)] + [(now - 60 + i / 2, 20.0 + i % 7, 31.0) for i in range(120)],
                     now=now)
    assert len(plot.history) == 120  # older samples fall off
    image = plot.grab().toImage()
    accent = sum(1 for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)
                 if image.pixelColor(x, y).name() == "#ff9900")
    assert accent > 20
    assert [nice_ceiling(v) for v in (0.7, 9.5, 37, 218)] == [0.8, 10, 40, 240]


def test_status_formatting_names_what_matters():
    pacing = {"profile": "deeplens", "paced": True, "predicted_ms": 180.4, "host_ms": 25.1, "effective_ms": 180.4,
              "host_too_slow": False, "inferences": 40, "status": "paced to deeplens"}
    rows = format_status(DeviceStatus.model_validate({  # the JSON /api/status serves, read back
        "thing_name": "deeplens_x", "profile": "deeplens", "source": "demo clip", "frame_size": [2688, 1520],
        "camera": {"fps": 29.9, "frames": 300, "dropped": 3, "reconnects": 0, "error": None},
        "project": "object_detection",
        "lambda": {"name": "lambda_function", "state": "restarting", "restarts": 2,
                   "last_error": "RuntimeError: <boom>"},
        "inference": {"fps": 4.2, "host_ms": 25.1, "predicted_ms": 180.4, "publish_rate": 4.0, "pacing": pacing},
        "broker": {"host": "127.0.0.1", "port": 1883, "embedded": True, "infer_topic": "$aws/things/x/infer"},
        "messages": 12}))
    assert "2688×1520" in rows["Source"] and "3 dropped" in rows["Camera"]
    assert "25.1 ms" in rows["Latency"] and "180.4 ms" in rows["Latency"]
    assert "2 restart(s)" in rows["Lambda"] and "&lt;boom&gt;" in rows["Lambda"]
    assert rows["Broker"] == "127.0.0.1:1883 (embedded)" and rows["Pacing"] == "paced to deeplens"


def test_garbage_is_collected_on_the_gui_thread_while_a_collector_runs(qtbot):
    import gc
    import weakref

    from gui.gc_guard import GuiThreadCollector

    was_enabled = gc.isenabled()
    collector = GuiThreadCollector(interval_ms=20).start()
    try:
        assert not gc.isenabled()

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle only the cyclic collector frees
        gone = weakref.ref(a)
        del a, b
        keep = [[] for _ in range(2 * gc.get_threshold()[0])]  # allocations that make a collection due
        qtbot.waitUntil(lambda: gone() is None, timeout=5000)
        del keep
    finally:
        collector.stop()
    assert gc.isenabled() == was_enabled
