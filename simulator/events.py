"""The events published on ``deeplens/<thing>/status``: a Lambda started, exited (and is restarted), stopped,
was found hung, was killed for its memory, or keeps failing the same way.

Frozen pydantic models (the conventions of ``simulator.status``); ``StatusEvent`` is their union, told apart by
``event``; ``parse_event`` reads one back from its JSON. Each says what happened in one sentence (``describe``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from simulator.status import _Frozen


class _Event(_Frozen):
    lambda_: str = Field(alias="lambda", description="the Lambda's name (its file name without .py)")
    time: float | None = Field(default=None, description="when (set by the core as it publishes)")
    thing: str | None = Field(default=None, description="the thing name (set by the core as it publishes)")


class LambdaStarted(_Event):
    event: Literal["started"] = "started"
    pid: int
    restarts: int

    def describe(self) -> str:
        return f"Lambda {self.lambda_} started (pid {self.pid}, restarts so far: {self.restarts})"


class LambdaRestarting(_Event):
    event: Literal["restart"] = "restart"
    exit_code: int | None
    error: str | None = Field(description="last stderr line")
    ran_seconds: float
    restarts: int
    delay: float = Field(description="seconds until the next start")
    repeat: int = Field(default=0, description="exits in a row with this same error before this one")

    def describe(self) -> str:
        if self.repeat > 0:
            return (f"Lambda {self.lambda_} crashed again: {self.error} (restart {self.restarts}, "
                    f"next in {self.delay:g} s)")
        error = f": {self.error}" if self.error else ""
        return (f"Lambda {self.lambda_} exited with status {self.exit_code}{error} — restart "
                f"#{self.restarts} in {self.delay:g} s")


class LambdaStopped(_Event):
    event: Literal["stopped"] = "stopped"

    def describe(self) -> str:
        return f"Lambda {self.lambda_} stopped"


class LambdaHung(_Event):
    event: Literal["hung"] = "hung"
    idle_seconds: float = Field(description="seconds without progress (no frame read, inference, publish, "
                                            "project-stream frame or frame sent to Kinesis Video)")
    watchdog_seconds: float = Field(description="the watchdog's limit")
    pid: int | None = Field(default=None, description="the process that was hung (it is killed and restarted)")

    def describe(self) -> str:
        return (f"Lambda {self.lambda_} hung: no frame read, inference, publish, project-stream frame or Kinesis "
                f"Video frame for {self.idle_seconds:.0f} s (watchdog {self.watchdog_seconds:g} s) — killing it to "
                "restart it")


class LambdaKilled(_Event):
    event: Literal["killed"] = "killed"
    reason: str = Field(description="why, e.g. 'memory limit 1024 MB exceeded'")
    memory_mb: float | None = Field(default=None, description="resident memory of its processes when killed")
    pid: int | None = None

    def describe(self) -> str:
        memory = f" (using {self.memory_mb:,.0f} MB)" if self.memory_mb is not None else ""
        return f"Lambda {self.lambda_} killed: {self.reason}{memory}"


class LambdaFailing(_Event):
    """A failure the supervisor can explain: the same error at import N times in a row, or a missing variable."""

    event: Literal["failing"] = "failing"
    error: str = Field(description="the exception, e.g. \"ModuleNotFoundError: No module named 'foo'\"")
    failures: int = Field(description="times in a row the Lambda failed with this error")
    at_import: bool = Field(description="it fails while its file is imported (before its loop runs)")
    hint: str | None = Field(default=None, description="what to do about it")

    def describe(self) -> str:
        where = "at import" if self.at_import else "with the same error"
        times = f" ({self.failures} times in a row)" if self.failures > 1 else ""
        hint = f" — {self.hint}" if self.hint else ""
        return f"Lambda {self.lambda_} is failing {where}{times}: {self.error}{hint}"


StatusEvent = Annotated[LambdaStarted | LambdaRestarting | LambdaStopped | LambdaHung | LambdaKilled | LambdaFailing,
                        Field(discriminator="event")]
_ADAPTER: TypeAdapter[StatusEvent] = TypeAdapter(StatusEvent)


def parse_event(data: dict[str, Any]) -> StatusEvent:
    """A status event from its JSON form (as published on ``deeplens/<thing>/status``)."""
    return _ADAPTER.validate_python(data)

