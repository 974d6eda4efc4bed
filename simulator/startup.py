"""Start-up progress of one device, from the first second until its first result.

Stages reported while the core works (``simulator.progress``: downloading a model, converting it) are combined
with what the Lambda's counters show (loaded, first inference) into one ``StartupStatus``; the times to the
first result (a message on the infer topic) and to the first annotated frame are measured here.
"""

from __future__ import annotations

import threading
import time

from simulator import progress
from simulator.status import InferenceStatus, StartupStatus


class StartupTracker:
    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._stage, self._detail, self._percent = "starting", "", None  # type: tuple[str, str, float | None]
        self._deployed_at: float | None = None
        self.first_result_s: float | None = None
        self.first_frame_s: float | None = None
        self._seq_at_first_inference: int | None = None
        self._seq_at_deploy: int | None = None  # the project stream's frame when the status first saw the Lambda
        self._stop_listening = progress.listen(self._on_progress, tells_user=False)  # records; displays say it

    def close(self) -> None:
        self._stop_listening()

    def restart_clock(self) -> None:
        """A new deployment: measure its time to first result from now."""
        with self._lock:
            self._t0 = time.monotonic()
            self.first_result_s = self.first_frame_s = None
            self._seq_at_first_inference = self._seq_at_deploy = None

    def _on_progress(self, stage: str, detail: str, percent: float | None) -> None:
        with self._lock:
            self._stage, self._detail, self._percent = stage, detail, percent

    def stage(self, stage: str, detail: str = "") -> None:
        self._on_progress(stage, detail, None)

    def saw_result(self) -> None:
        """A message arrived on the device's infer topic."""
        if self.first_result_s is None:
            self.first_result_s = round(time.monotonic() - self._t0, 3)

    def lambda_started(self, project: str) -> None:
        with self._lock:
            self._deployed_at = time.monotonic()
            self._seq_at_deploy = None
            self._stage, self._detail, self._percent = "starting the Lambda", project, None

    def undeployed(self) -> None:
        with self._lock:
            self._deployed_at = None
            self._stage, self._detail, self._percent = "no project deployed", "", None
            self.first_result_s = self.first_frame_s = None
            self._seq_at_first_inference = self._seq_at_deploy = None

    def snapshot(self, inference: InferenceStatus, project_seq: int) -> StartupStatus:
        with self._lock:
            stage, detail, percent = self._stage, self._detail, self._percent
            elapsed = time.monotonic() - self._t0
            deployed = self._deployed_at is not None
            if deployed and self._seq_at_deploy is None:
                self._seq_at_deploy = project_seq
            # running: it inferred, published a result or drew a frame (a Lambda need not load a model)
            ready = deployed and (inference.inferences > 0 or self.first_result_s is not None
                                  or project_seq > (self._seq_at_deploy or 0))
            if ready:
                if self._seq_at_first_inference is None:
                    self._seq_at_first_inference = project_seq
                elif self.first_frame_s is None and project_seq > self._seq_at_first_inference:
                    self.first_frame_s = round(elapsed, 3)
                stage, detail, percent = "running", "", None
            elif self._deployed_at is not None and inference.model:
                stage, detail, percent = "waiting for the first inference", inference.model, None
        return StartupStatus(stage=stage, detail=detail, percent=percent, ready=ready, elapsed_s=round(elapsed, 3),
                             first_result_s=self.first_result_s, first_frame_s=self.first_frame_s)
