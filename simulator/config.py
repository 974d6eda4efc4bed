"""The validated settings of one run (built from the command line, or by the GUI)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str | None = None  # sample name, folder or Lambda file; None = the default sample; "" = none
    source: str | None = None  # None = the project's source, else webcam 0, else the demo clip
    profile: str = "host"
    thing_name: str | None = None  # None = deeplens_<uuid> stable for this user
    artifacts: Path | None = None  # None = the per-user artifacts folder
    mqtt_host: str = "127.0.0.1"  # where the embedded broker listens
    mqtt_port: int = Field(default=1883, ge=0, le=65535)  # 0 = pick a free port
    broker: str | None = None  # HOST:PORT of an external broker instead of the embedded one
    broker_ca: Path | None = None  # TLS to the external broker (e.g. AWS IoT Core on port 8883)
    broker_cert: Path | None = None
    broker_key: Path | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    realtime: bool = True  # play files at their own frame rate (False: as fast as they decode)
