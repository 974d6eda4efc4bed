"""The simulator's main window: pickers and Deploy/Stop on top, an error banner, the project stream large (the
device stream small, swappable), the MQTT inspector and Lambda log below, status and latency plot on the side.

Widgets never call the device: they send requests to the ``DeviceController`` and are fed by its signals.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.banner import Banner
from gui.cloud_panel import CloudPanel
from gui.controller import DeviceController
from gui.fleet_panel import FleetPanel
from gui.gc_guard import GuiThreadCollector
from gui.header import Header
from gui.inspector import MqttInspector
from gui.kvs_view import KvsView
from gui.latency_plot import LatencyPlot
from gui.log_view import LambdaLog, describe_event
from gui.recovery import RecoveryWatch
from gui.rules_panel import RulesPanel
from gui.status_panel import StatusArea, StatusPanel
from gui.stream_view import StreamView
from gui.workers import DEVICE, PROJECT
from simulator.config import RunConfig
from simulator.events import LambdaRestarting
from simulator.projects import DEFAULT_PROJECT
from simulator.status import DeviceStatus

NO_PROJECT = "No Lambda deployed — pick a project and press Deploy"
LIVE_VIEW_MIN_HEIGHT = 110


def panel(title: str, *widgets: QWidget, extra: QWidget | None = None, stretch: int = 0) -> QFrame:
    """A rounded dark card with a small uppercase title (and an optional widget at the title's right)."""
    frame = QFrame(objectName="panel")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(10, 8, 10, 10)
    head = QHBoxLayout()
    head.addWidget(QLabel(title.upper(), objectName="panelTitle"), 1)
    if extra is not None:
        head.addWidget(extra)
    layout.addLayout(head)
    for w in widgets:
        layout.addWidget(w, stretch)
    return frame


def source_spec(description: str, configured: str | None) -> str:
    """The picker spec of the source the device opened (it chooses webcam 0 or the demo when none is given)."""
    if description == "demo clip":
        return "demo"
    if m := re.fullmatch(r"webcam (\d+)", description):
        return m.group(1)
    return configured or description


class MainWindow(QMainWindow):
    def __init__(self, controller: DeviceController | None = None) -> None:
        super().__init__()
        self.setWindowTitle("DeepLens simulator")
        self.resize(1440, 900)
        self.controller = controller or DeviceController(self)
        self.collector = GuiThreadCollector(parent=self).start()
        self._closed = False
        self._busy = ""
        self._deployed = False  # a Lambda is deployed: Stop has something to stop
        self._recovery, self._crash_note = RecoveryWatch(), ""  # the banner takes back this note on a recovery
        self._build()
        self._connect()
        self._update_buttons()

    # -- building --------------------------------------------------------------------------------------------
    def _build(self) -> None:
        header = Header()
        self.source_picker, self.profile_picker = header.source_picker, header.profile_picker
        self.project_picker, self.thing_label = header.project_picker, header.thing_label
        self.deploy_button, self.stop_button = header.deploy_button, header.stop_button

        self.banner = Banner()
        self.project_view = StreamView(PROJECT, "Project stream", "Waiting for the project stream…")
        self.device_view = StreamView(DEVICE, "Device stream", "Waiting for the camera…")
        self.views = {PROJECT: self.project_view, DEVICE: self.device_view}
        self.large_slot, self.small_slot = QVBoxLayout(), QVBoxLayout()
        for slot in (self.large_slot, self.small_slot):
            slot.setContentsMargins(0, 0, 0, 0)
        self.large_slot.addWidget(self.project_view)
        self.small_slot.addWidget(self.device_view)
        large, small = QWidget(), QWidget()
        large.setLayout(self.large_slot)
        small.setLayout(self.small_slot)
        small.setMinimumHeight(LIVE_VIEW_MIN_HEIGHT)
        self.swap_button = QToolButton(text="⇄ Swap")
        self.swap_button.setToolTip("Swap the large and the small stream (or click the small one)")

        self.inspector, self.log_view = MqttInspector(), LambdaLog()
        self.rules_panel, self.cloud_panel = RulesPanel(), CloudPanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.inspector, "MQTT inspector")
        self.tabs.addTab(self.log_view, "Lambda log")
        self.tabs.addTab(self.rules_panel, "Rules")
        self.tabs.addTab(self.cloud_panel, "Cloud")
        self.kvs_view = KvsView()
        self.tabs.addTab(self.kvs_view, "Kinesis Video")
        self.fleet_panel = FleetPanel()
        self.tabs.addTab(self.fleet_panel, "Fleet")
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(large)
        left.addWidget(self.tabs)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)
        left.setChildrenCollapsible(False)

        self.status_panel, self.plot = StatusPanel(), LatencyPlot()
        self.status_area = StatusArea(self.status_panel)
        side = QWidget()
        side.setMinimumWidth(340)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        column.addWidget(panel("Live view", small, extra=self.swap_button, stretch=1), 3)
        column.addWidget(panel("Status", self.status_area), 0)
        column.addWidget(panel("Inference latency · last minute", self.plot, stretch=1), 2)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(side)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 1)
        body.setChildrenCollapsible(False)

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(header)
        content = QVBoxLayout()
        content.setContentsMargins(10, 10, 10, 10)
        content.setSpacing(8)
        content.addWidget(self.banner)
        content.addWidget(body, 1)
        outer.addLayout(content, 1)
        self.setCentralWidget(central)
        self.statusBar().showMessage("Ready")

    def _connect(self) -> None:
        c, poller = self.controller, self.controller.poller
        poller.frame.connect(self._on_frame)
        poller.status.connect(self._on_status)
        for view in self.views.values():
            view.resized.connect(poller.set_target_size)
        c.messages.batch.connect(self.inspector.add_messages)
        c.lambda_output.batch.connect(self._on_lambda_output)
        c.error.connect(self._on_error)
        c.busy.connect(self._on_busy)
        c.device_started.connect(self._on_device_started)
        c.device_stopped.connect(self._on_device_stopped)
        c.deployed.connect(self._on_deployed)
        c.rules_reloaded.connect(self.rules_panel.show_reload_result)
        c.config_kept.connect(self._on_config_kept)
        self.rules_panel.reload_requested.connect(c.reload_rules)
        c.undeployed.connect(self._on_undeployed)
        c.webcams.connect(self.source_picker.set_webcams)
        self.source_picker.chosen.connect(lambda spec: c.reconfigure(source=spec))
        self.profile_picker.chosen.connect(lambda spec: c.reconfigure(profile=spec))
        self.deploy_button.clicked.connect(self.deploy_selected)
        self.stop_button.clicked.connect(c.undeploy)
        self.inspector.topic_filter_changed.connect(c.set_topic_filter)
        self.swap_button.clicked.connect(self.swap_streams)
        for view in self.views.values():
            view.clicked.connect(lambda v=view: self.swap_streams() if self.small_slot.indexOf(v) >= 0 else None)
        QShortcut(QKeySequence.StandardKey.Quit, self, activated=self.close)

    # -- actions ---------------------------------------------------------------------------------------------
    def start(self, config: RunConfig) -> None:
        """Start the device with ``config`` (off the GUI thread); the pickers show what was asked for."""
        self.profile_picker.set_current(config.profile)
        self.project_picker.set_current(config.project or DEFAULT_PROJECT)
        if config.source:
            self.source_picker.set_current(config.source)
        self.controller.start(config)

    def deploy_selected(self) -> None:
        spec = self.project_picker.current_spec()
        if spec:
            self.controller.deploy(spec)

    def swap_streams(self) -> None:
        large = self.large_slot.itemAt(0).widget()
        small = self.small_slot.itemAt(0).widget()
        self.large_slot.removeWidget(large)
        self.small_slot.removeWidget(small)
        self.large_slot.addWidget(small)
        self.small_slot.addWidget(large)

    def large_stream(self) -> str:
        return self.large_slot.itemAt(0).widget().stream

    # -- controller signals ----------------------------------------------------------------------------------
    def _on_frame(self, stream: str, image: QImage, width: int, height: int) -> None:
        view = self.views[stream]
        if image.isNull():  # the project stream ended: the Lambda was stopped, or is being swapped
            view.clear(NO_PROJECT if self.controller.wanted is None else "Waiting for the project stream…")
        else:
            view.set_image(image, width, height)
        self.controller.poller.frame_shown(stream)

    def _on_status(self, status: DeviceStatus, history: list) -> None:
        self.status_panel.update_status(status)
        self._set_deployed(status.project is not None)
        lam = status.lambda_
        if self._recovery.recovered(status) and lam is not None and self.banner.text() == self._crash_note:
            self.banner.show_message(f"Lambda {lam.name} recovered: running again after restart #{lam.restarts}",
                                     "info", timeout_ms=8000)
        self.plot.set_history(history)
        self.rules_panel.set_rules(status.rules)
        startup = status.startup
        busy = startup is not None and status.project is not None and not startup.ready
        self.project_view.set_note(f"{startup.describe()}…" if busy and startup is not None else None)

    def _on_lambda_output(self, items: list) -> None:
        self.log_view.add_batch(items)
        crashes = [p for kind, p in items if kind == "event" and isinstance(p, LambdaRestarting)]
        if crashes:
            self._crash_note = describe_event(crashes[-1])
            self.banner.show_message(self._crash_note, "error")
            self._recovery.crashed(crashes[-1].restarts)

    def _on_error(self, text: str) -> None:
        self.banner.show_message(text, "error")
        if self.controller.device is None:
            for view in self.views.values():
                view.clear("The device is not running — choose a source that opens")

    def _on_busy(self, what: str) -> None:
        self._busy = what
        self._update_buttons()
        self.statusBar().showMessage(what or "Ready")

    def _set_deployed(self, deployed: bool) -> None:
        if deployed != self._deployed:
            self._deployed = deployed
            self._update_buttons()

    def _update_buttons(self) -> None:
        self.deploy_button.setEnabled(not self._busy)
        self.stop_button.setEnabled(not self._busy and self._deployed)

    def _on_device_started(self, device) -> None:
        self.cloud_panel.set_device(device)
        self.kvs_view.set_device(device)
        self.fleet_panel.watch_device(device)
        self.thing_label.setText(device.thing_name)
        self.source_picker.set_current(source_spec(device.source_description, device.config.source))
        self.setWindowTitle(f"DeepLens simulator — {device.thing_name}")

    def _on_config_kept(self, config: RunConfig) -> None:
        """A source or profile that could not be used: the pickers go back to what runs."""
        self.profile_picker.set_current(config.profile)
        device = self.controller.device
        if device is not None:
            self.source_picker.set_current(source_spec(device.source_description, device.config.source))
        elif config.source:
            self.source_picker.set_current(config.source)

    def _on_device_stopped(self) -> None:
        self.cloud_panel.set_device(None)
        self.fleet_panel.watch_device(None)
        self.project_view.clear("The device is stopped")
        self.device_view.clear("The device is stopped")
        self.status_panel.clear("device stopped")
        self._set_deployed(False)
        self._recovery.forget()

    def _on_undeployed(self) -> None:
        self.project_view.clear(NO_PROJECT)
        self._set_deployed(False)
        self._recovery.forget()

    def _on_deployed(self, name: str) -> None:
        self.project_view.clear("Starting the Lambda…")
        self._set_deployed(True)
        self._recovery.forget()
        self.banner.show_message(f"Deployed {name}", "info", timeout_ms=4000)

    def closeEvent(self, event) -> None:
        if not self._closed:
            self._closed = True
            self.hide()
            self.cloud_panel.shutdown()
            self.kvs_view.shutdown()
            self.fleet_panel.shutdown()
            self.controller.shutdown()
            self.collector.stop()
        event.accept()
