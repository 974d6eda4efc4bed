"""What a running simulated device reports: the status (``GET /api/status``, the window's status panel, the
headless status line). The events published on ``deeplens/<thing>/status`` are in ``simulator.events``.

Frozen pydantic models, served with ``model_dump(mode="json", by_alias=True)``; every field is documented here
and nowhere else. Times are Unix seconds, latencies milliseconds, rates per second.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from simulator.broker.stats import BrokerStats
from simulator.rules.status import RuleStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def as_json(self) -> dict:
        """The JSON form (aliases such as ``lambda``; paths and enums as strings)."""
        return self.model_dump(mode="json", by_alias=True)


class CameraStatus(_Frozen):
    fps: float = Field(description="frames published per second, over the last second")
    frames: int = Field(description="frames published since the start")
    dropped: int = Field(description="source frames skipped (playback behind, or the profile's camera is slower)")
    reconnects: int = Field(description="times the source was reopened")
    error: str | None = Field(default=None, description="why the source is not delivering right now")
    state: str = Field(default="running", description="'starting', 'running', 'reconnecting (attempt N, last "
                                                      "error: …)', 'stopped' or 'failed: …'")
    skipped: int = Field(default=0, description="unreadable entries of an image folder passed over (each logged once)")


class PacingStatus(_Frozen):
    """How ``doInference`` is paced to the hardware profile (absent for the unpaced ``host`` profile)."""

    profile: str
    paced: bool = Field(description="inference is slowed to the profile's predicted latency")
    predicted_ms: float | None = Field(description="latency the profile predicts for this model")
    host_ms: float | None = Field(description="mean latency measured on this computer (recent inferences)")
    effective_ms: float | None = Field(description="what the Lambda experiences per inference, paced")
    fps: float | None = Field(default=None, description="1000 / effective_ms")
    host_too_slow: bool = Field(description="this computer is slower than the profile's device")
    inferences: int
    status: str = Field(description="one line for people, e.g. 'paced to raspberry-pi-4: predicted 61.8 ms'")
    device: str | None = Field(default=None, description="the profile's device the prediction is for (CPU/GPU)")
    precision: str | None = Field(default=None, description="precision the prediction assumes (FP32/FP16)")


class InferenceStatus(_Frozen):
    """What the Lambda process reports through its counters, turned into rates over the last few seconds."""

    model: str | None = Field(default=None, description="the model path the Lambda loaded, as it named it")
    device: str | None = Field(default=None, description="the device the Lambda asked for ({'GPU': 1} → GPU)")
    runs_on: str | None = Field(default=None, description="what actually runs it here: OpenVINO device and precision")
    inferences: int = 0
    fps: float = Field(default=0.0, description="doInference calls per second")
    host_ms: float | None = Field(default=None, description="latency of the last doInference on this computer")
    predicted_ms: float | None = Field(default=None, description="latency the hardware profile predicts")
    pacing: PacingStatus | None = None
    publishes: int = Field(default=0, description="messages the Lambda published")
    publish_rate: float = 0.0
    publish_dropped: int = Field(default=0, description="publishes dropped because the outgoing queue was full")
    project_stream_fps: float = Field(default=0.0, description="new project-stream frames per second")
    frames_read: int = Field(default=0, description="getLastFrame calls that returned a frame")
    stale_frames: int = Field(default=0, description="getLastFrame calls that returned the same frame again")


class LambdaStatus(_Frozen):
    """One Lambda's supervision at a moment (``LambdaSupervisor.status``)."""

    name: str
    state: Literal["starting", "running", "restarting", "stopped"]
    pid: int | None = Field(default=None, description="process id while it runs (None once it exited)")
    restarts: int = 0
    last_exit: int | None = Field(default=None, description="exit status of the last run (-9: killed)")
    last_error: str | None = Field(default=None, description="last line the Lambda wrote to stderr before exiting, "
                                                             "or why the supervisor ended it")
    memory_mb: float | None = Field(default=None, description="memory of the Lambda and every process it started, "
                                                              "MB: resident, or its cgroup's charge (None while it "
                                                              "is not running)")
    memory_limit_mb: float | None = Field(default=None, description="kill above this (None: no limit)")
    memory_limit_by: Literal["cgroup", "rss"] | None = Field(
        default=None, description="how the limit is enforced: the kernel (a cgroup v2) or polling resident memory")
    watchdog_seconds: float | None = Field(default=None, description="hung after this long without progress "
                                                                     "(None: no watchdog)")
    progress: int | None = Field(default=None, description="the Lambda's work so far (frames read, inferences, "
                                 "publishes, project-stream and Kinesis Video frames), kept across its restarts: it "
                                 "grows only while a run of it works (None: not counted)")
    progress_age: float | None = Field(default=None, description="seconds since the Lambda last made progress "
                                                                 "(since it started, while it has made none)")
    hung: int = Field(default=0, description="times it was restarted for making no progress")
    killed: int = Field(default=0, description="times it was killed for exceeding its memory limit")
    orphans_ended: int = Field(default=0, description="processes the Lambda started that were ended with it")
    lines_dropped: int = Field(default=0, description="output lines not shown: more than the rate limit per second")
    lines_cut: int = Field(default=0, description="output lines shown shortened to the maximum line length")
    repeats: int = Field(default=0, description="consecutive exits with the same error as the one before")
    note: str | None = Field(default=None, description="what the supervisor makes of repeated failures, e.g. "
                                                       "'failing at import: …' with what to do")


class BrokerStatus(_Frozen):
    host: str
    port: int
    embedded: bool = Field(description="the simulator's own broker (False: an external one, --broker)")
    infer_topic: str = Field(description="where the Lambda's results go: $aws/things/<thing>/infer")
    stats: BrokerStats | None = Field(default=None, description="the embedded broker's counters (connections, "
                                                                "refusals, drops)")


class StartupStatus(_Frozen):
    """What the device is busy with until its first result, and how long that took."""

    stage: str = Field(description="'starting the camera', 'downloading', 'converting', 'starting the Lambda', "
                                   "'waiting for the first inference', 'running' or 'no project deployed'")
    detail: str = Field(default="", description="what exactly (the file being downloaded, the model converted)")
    percent: float | None = Field(default=None, description="progress of the stage, when it is known")
    ready: bool = Field(default=False, description="the Lambda has run its first inference")
    elapsed_s: float = Field(description="seconds since the device was started")
    first_result_s: float | None = Field(default=None, description="seconds from start to the first JSON message "
                                                                  "on the infer topic (time to first result)")
    first_frame_s: float | None = Field(default=None, description="seconds from start to the first project-stream "
                                                                 "frame drawn after an inference")

    def describe(self) -> str:
        text = self.stage + (f": {self.detail}" if self.detail else "")
        return text + (f" ({self.percent:.0f} %)" if self.percent is not None else "")


class CloudStatus(_Frozen):
    mode: Literal["local", "aws"] = Field(description="local: the simulator's own AWS endpoint; aws: real AWS")
    endpoint: str | None = Field(default=None, description="AWS_ENDPOINT_URL the Lambdas and rules use (local)")
    region: str | None = None
    loaded: bool = Field(default=False, description="the local endpoint has loaded (it does at the first AWS call)")


class DeviceStatus(_Frozen):
    thing_name: str = Field(description="AWS_IOT_THING_NAME of the simulated device")
    profile: str = Field(description="hardware profile name")
    source: str = Field(description="the camera source, described")
    frame_size: tuple[int, int] | None = Field(default=None, description="(width, height) of the camera frames")
    camera: CameraStatus | None = None
    project: str | None = Field(default=None, description="the deployed project, if any")
    lambda_: LambdaStatus | None = Field(default=None, alias="lambda")
    inference: InferenceStatus = Field(default_factory=InferenceStatus)
    broker: BrokerStatus
    messages: int = Field(description="MQTT messages seen on the device's topics")
    startup: StartupStatus | None = Field(default=None, description="start-up progress and time to first result")
    cloud: CloudStatus | None = Field(default=None, description="where the Lambdas' and rules' AWS calls go")
    rules: list[RuleStatus] = Field(default_factory=list, description="the AWS IoT rules running on this device's "
                                                                      "topics, with their counters")
