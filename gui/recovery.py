"""Tells when a Lambda that crashed works again, so the window can take back its error banner."""

from __future__ import annotations

from simulator.status import DeviceStatus


class RecoveryWatch:
    """Fed the crash (``crashed``) and then every status: ``recovered`` is True once, when the restarted Lambda
    runs and has made progress since the crash."""

    def __init__(self) -> None:
        self.restarts: int | None = None  # the crash's restart count (None: not watching)
        self.baseline: int | None = None  # the progress when the crash had been counted

    def crashed(self, restarts: int) -> None:
        self.restarts, self.baseline = restarts, None

    def forget(self) -> None:
        self.restarts = self.baseline = None

    def recovered(self, status: DeviceStatus) -> bool:
        if self.restarts is None:
            return False
        lam = status.lambda_
        if lam is None:  # undeployed: nothing to recover
            self.forget()
            return False
        if lam.restarts < self.restarts:  # read before the crash was counted
            return False
        done = lam.progress or 0  # what the supervisor's watchdog goes by too
        if self.baseline is None:
            self.baseline = done
            return False
        if lam.state == "running" and done > self.baseline:
            self.forget()
            return True
        return False
