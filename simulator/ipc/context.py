"""What a Lambda process knows about its simulated device: one pydantic model, passed as JSON in one
environment variable (``DEEPLENS_SIM_CONTEXT``) by the supervisor and read back once in the Lambda process.

Both halves are the same model, so a field cannot have one default in the core and another in the Lambda.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulator.ipc.mqtt import MqttLink, TlsFiles
from simulator.ipc.run_folder import FRAMES_FILE, PROJECT_FILE, STATS_FILE

DEVICE_ARTIFACTS = "/opt/awscam/artifacts"
PROJECT_STREAM_PATH = "/tmp/results.mjpeg"
ENV_CONTEXT = "DEEPLENS_SIM_CONTEXT"

__all__ = ["DEVICE_ARTIFACTS", "ENV_CONTEXT", "FRAMES_FILE", "PROJECT_FILE", "PROJECT_STREAM_PATH", "STATS_FILE",
           "DeviceContext", "NotInSimulatorError", "current"]


class NotInSimulatorError(RuntimeError):
    """A device module was used outside a Lambda process started by the simulator."""


class DeviceContext(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    thing_name: str
    run_dir: Path
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(ge=1, le=65535)
    mqtt_username: str | None = None  # the Lambda's own credentials on the broker
    mqtt_password: str | None = None
    tls: TlsFiles | None = None
    artifacts: Path
    profile: str = "host"
    shadows: Path
    lambda_file: Path | None = None

    def link(self, client_id: str) -> MqttLink:
        """A (not yet started) MQTT client for this device's broker."""
        return MqttLink(self.mqtt_host, self.mqtt_port, client_id=client_id, tls=self.tls,
                        username=self.mqtt_username, password=self.mqtt_password)

    def env(self) -> dict[str, str]:
        """The environment variables that carry this context into a Lambda process."""
        return {"AWS_IOT_THING_NAME": self.thing_name, ENV_CONTEXT: self.model_dump_json()}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DeviceContext:
        environ = dict(os.environ if environ is None else environ)
        raw = environ.get(ENV_CONTEXT)
        if not raw:
            raise NotInSimulatorError(
                f"not running inside the DeepLens simulator ({ENV_CONTEXT} is not set); "
                "start Lambdas with: python main.py --headless --project FILE.py")
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise NotInSimulatorError(f"{ENV_CONTEXT} is not a valid device context: {exc}") from None

    @property
    def frames_path(self) -> Path:
        return self.run_dir / FRAMES_FILE

    @property
    def project_stream_path(self) -> Path:
        return self.run_dir / PROJECT_FILE

    @property
    def stats_path(self) -> Path:
        return self.run_dir / STATS_FILE

    def remap(self, path: str | os.PathLike) -> Path:
        """A device path under /opt/awscam/artifacts → the simulator's artifacts folder; others unchanged."""
        text = os.fspath(path)
        if text == DEVICE_ARTIFACTS or text.startswith(DEVICE_ARTIFACTS + "/"):
            return self.artifacts / text[len(DEVICE_ARTIFACTS):].lstrip("/")
        return Path(text)


@functools.cache
def current() -> DeviceContext:
    """The context of this Lambda process (read once from the environment)."""
    return DeviceContext.from_env()
