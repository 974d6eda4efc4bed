"""What a Lambda process knows about its simulated device, passed in environment variables by the supervisor."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from simulator.broker.client import MqttLink, TlsFiles

DEVICE_ARTIFACTS = "/opt/awscam/artifacts"
PROJECT_STREAM_PATH = "/tmp/results.mjpeg"

ENV_RUN_DIR = "DEEPLENS_SIM_RUN_DIR"
ENV_MQTT = "DEEPLENS_SIM_MQTT"
ENV_ARTIFACTS = "DEEPLENS_SIM_ARTIFACTS"
ENV_PROFILE = "DEEPLENS_SIM_PROFILE"
ENV_SHADOWS = "DEEPLENS_SIM_SHADOWS"
ENV_LAMBDA = "DEEPLENS_SIM_LAMBDA"
ENV_MQTT_TLS = "DEEPLENS_SIM_MQTT_TLS"

FRAMES_FILE = "frames"
PROJECT_FILE = "project.mjpeg"
STATS_FILE = "lambda-stats"


@dataclass(frozen=True)
class DeviceContext:
    thing_name: str
    run_dir: Path
    mqtt_host: str
    mqtt_port: int
    artifacts: Path
    profile: str
    shadows: Path
    lambda_file: Path | None
    tls: TlsFiles | None = None

    def link(self, client_id: str) -> MqttLink:
        """A (not yet started) MQTT client for this device's broker."""
        return MqttLink(self.mqtt_host, self.mqtt_port, client_id=client_id, tls=self.tls)

    def env(self) -> dict[str, str]:
        return {
            "AWS_IOT_THING_NAME": self.thing_name,
            ENV_RUN_DIR: str(self.run_dir),
            ENV_MQTT: f"{self.mqtt_host}:{self.mqtt_port}",
            ENV_ARTIFACTS: str(self.artifacts),
            ENV_PROFILE: self.profile,
            ENV_SHADOWS: str(self.shadows),
            ENV_LAMBDA: str(self.lambda_file or ""),
            ENV_MQTT_TLS: json.dumps(self.tls.__dict__) if self.tls else "",
        }

    def remap(self, path: str | os.PathLike) -> Path:
        """A device path under /opt/awscam/artifacts → the simulator's artifacts folder; others unchanged."""
        text = os.fspath(path)
        if text == DEVICE_ARTIFACTS or text.startswith(DEVICE_ARTIFACTS + "/"):
            return self.artifacts / text[len(DEVICE_ARTIFACTS):].lstrip("/")
        return Path(text)


@functools.cache
def current() -> DeviceContext:
    """The context of this Lambda process (read once from the environment)."""
    missing = [k for k in (ENV_RUN_DIR, ENV_MQTT) if not os.environ.get(k)]
    if missing:
        raise RuntimeError(f"not running inside the DeepLens simulator (missing {', '.join(missing)}); "
                           "start Lambdas with: python main.py --headless --project FILE.py")
    host, _, port = os.environ[ENV_MQTT].rpartition(":")
    lambda_file = os.environ.get(ENV_LAMBDA)
    tls = os.environ.get(ENV_MQTT_TLS)
    return DeviceContext(
        thing_name=os.environ.get("AWS_IOT_THING_NAME", "deeplens_simulated"),
        run_dir=Path(os.environ[ENV_RUN_DIR]),
        mqtt_host=host or "127.0.0.1",
        mqtt_port=int(port),
        artifacts=Path(os.environ.get(ENV_ARTIFACTS, DEVICE_ARTIFACTS)),
        profile=os.environ.get(ENV_PROFILE, "host"),
        shadows=Path(os.environ.get(ENV_SHADOWS, "shadows")),
        lambda_file=Path(lambda_file) if lambda_file else None,
        tls=TlsFiles(**json.loads(tls)) if tls else None,
    )
