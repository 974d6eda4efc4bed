"""The validated settings of one run (built from the command line, or by the GUI).

Every check of a setting lives here, so a bad value fails before anything starts: ``--broker`` must be
``HOST:PORT``, certificate files must exist, the thing name must be a valid AWS IoT thing name.
``config_error(exc)`` turns a pydantic ValidationError into one ConfigError that names the command-line flag.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, FilePath, ValidationError, field_validator, model_validator

from simulator.errors import ConfigError

THING_NAME = re.compile(r"^[A-Za-z0-9:_-]{1,128}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CPU_THREADS_ENV = "DEEPLENS_SIM_CPU_THREADS"  # how --cpu-threads reaches the Lambda's OpenVINO


def parse_env(items: list[str]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` (from ``--env``) → a dict; ConfigError naming the item that is not KEY=VALUE."""
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--env {item!r}: expected KEY=VALUE (e.g. --env BUCKET_NAME=my-frames)")
        env[key] = value
    return env


def parse_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); ValueError naming what is wrong."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT with a port from 1 to 65535 "
                         "(e.g. 127.0.0.1:1883, or <endpoint>-ats.iot.<region>.amazonaws.com:8883)")
    return host, int(port)


def check_thing_name(name: str) -> str:
    if not THING_NAME.match(name):
        raise ValueError("use 1-128 letters, digits, ':', '_' or '-' "
                         "(AWS IoT thing-name rules; MQTT wildcards are not allowed)")
    return name


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str | None = None  # sample name, folder or Lambda file; None = the default sample; "" = none
    source: str | None = None  # None = the project's source, else webcam 0, else the demo clip
    profile: str = "host"
    thing_name: str | None = None  # None = deeplens_<uuid> stable for this user
    artifacts: Path | None = None  # None = the per-user artifacts folder
    mqtt_host: str = "127.0.0.1"  # where the embedded broker listens (--listen sets it and http_host)
    mqtt_port: int = Field(default=1883, ge=0, le=65535)  # 0 = pick a free port
    mqtt_tls_port: int = Field(default=8883, ge=0, le=65535)  # MQTT over TLS, when tls_cert/tls_key are given
    password_file: FilePath | None = None  # broker users ($7$ hashes); beyond loopback one is made if absent
    broker_impl: Literal["amqtt", "mosquitto"] = "amqtt"  # mosquitto: a child process, for classrooms
    tls_cert: FilePath | None = None  # TLS for the embedded broker (8883) and the web viewer (HTTPS)
    tls_key: FilePath | None = None
    allow_hosts: list[str] = Field(default_factory=list)  # more host names the viewer answers for
    broker_username: str | None = None  # credentials on an external broker (--broker), e.g. a classroom's
    broker_password: str | None = None
    broker: str | None = None  # HOST:PORT of an external broker instead of the embedded one
    broker_ca: FilePath | None = None  # TLS to the external broker (e.g. AWS IoT Core on port 8883)
    broker_cert: FilePath | None = None
    broker_key: FilePath | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    realtime: bool = True  # play files at their own frame rate (False: as fast as they decode)
    every_frame: bool = False  # a file advances one frame per frame the Lambda reads (every frame, in order)
    env: dict[str, str] = Field(default_factory=dict)  # --env KEY=VALUE: the Lambda's environment (over the project's)
    cpu_threads: int | None = Field(default=None, ge=1)  # OpenVINO CPU threads per Lambda, unpinned (None: all cores)
    rules: list[FilePath] = Field(default_factory=list)  # --rules FILE: AWS IoT rules (besides the project's)
    cloud: Literal["local", "aws"] = "local"  # local: the simulator's own AWS endpoint; aws: the real one
    cloud_port: int | None = Field(default=None, ge=0, le=65535)  # None: 4566 if free, else any; 0: any
    memory_limit_mb: float | None = Field(default=None, gt=0)  # per Lambda (default: the project's, else the profile's)
    thumbnail: bool = True  # a 1 frame/s thumbnail on deeplens/<thing>/thumbnail for the instructor's fleet view

    @field_validator("env")
    @classmethod
    def _env(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if not ENV_NAME.match(key):
                raise ValueError(f"{key!r} is not an environment variable name (letters, digits, '_')")
        return env

    @field_validator("artifacts")
    @classmethod
    def _artifacts(cls, path: Path | None) -> Path | None:
        """Absolute: the Lambda runs in its own folder, where a relative path would point somewhere else."""
        return None if path is None else path.expanduser().absolute()

    @field_validator("broker")
    @classmethod
    def _broker(cls, value: str | None) -> str | None:
        if value is not None:
            parse_host_port(value)
        return value

    @field_validator("thing_name")
    @classmethod
    def _thing(cls, value: str | None) -> str | None:
        return check_thing_name(value) if value is not None else None

    @model_validator(mode="after")
    def _tls_pair(self) -> RunConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        return self

    @model_validator(mode="after")
    def _tls_needs_broker(self) -> RunConfig:
        if self.broker is None and any((self.broker_ca, self.broker_cert, self.broker_key)):
            raise ValueError("--broker-ca/--broker-cert/--broker-key are for an external broker: give --broker too")
        if (self.broker_cert is None) != (self.broker_key is None):
            raise ValueError("--broker-cert and --broker-key go together")
        return self

    def lambda_env(self) -> dict[str, str]:
        """The Lambda's environment from these settings: ``--env`` and the thread cap of ``--cpu-threads``."""
        threads = {CPU_THREADS_ENV: str(self.cpu_threads)} if self.cpu_threads is not None else {}
        return {**self.env, **threads}

    @property
    def loopback(self) -> bool:
        """Both the broker and the viewer listen on loopback only."""
        return all(_is_loopback(h) for h in (self.mqtt_host, self.http_host))

    @property
    def broker_address(self) -> tuple[str, int] | None:
        """(host, port) of the external broker, or None for the embedded one."""
        return parse_host_port(self.broker) if self.broker else None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


FLAGS = {"memory_limit_mb": "--memory-limit", "mqtt_host": "--listen", "http_host": "--listen",
         "allow_hosts": "--allow-host"}  # fields whose command-line flag is not their name


def config_error(exc: ValidationError) -> ConfigError:
    """One ConfigError for all problems, each naming the command-line flag (``--broker-ca: ...``)."""
    lines: list[str] = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        flag = FLAGS.get(field, f"--{field.replace('_', '-')}")
        msg = str(err["msg"]).removeprefix("Value error, ")
        given = err.get("input")
        if err["type"] == "path_not_file":
            msg = f"no such file: {given}"
        if not field:
            line = msg
        elif err["type"] == "value_error" and not isinstance(given, (dict, list, tuple)):
            line = f"{flag} {given!r}: {msg}"
        else:
            line = f"{flag}: {msg}"
        if line not in lines:  # --listen stands for two fields
            lines.append(line)
    return ConfigError("\n".join(lines))
