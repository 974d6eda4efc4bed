"""Helpers of the rules tests: a real paho publisher, rules files written from text, the engine's status, a second
boto3 client, and waiting on conditions (never on the clock)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from simulator.ipc.mqtt import disconnect_and_stop
from simulator.rules import RulesEngine, RuleStatus
from tests.support.waits import wait_for_value

HERE = Path(__file__).resolve().parent
CLOUD = HERE / "cloud"  # local Lambda handlers used by the tests


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """The first truthy value of ``predicate()``; fails the test after ``timeout`` s."""
    return wait_for_value(predicate, timeout, what, every=0.02)


class Publisher:
    """A real paho-mqtt client; each publish waits for the broker's acknowledgement (QoS 1)."""

    def __init__(self, port: int) -> None:
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{id(self)}")
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def publish(self, topic: str, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self._client.publish(topic, data, qos=1).wait_for_publish(10)

    def stop(self) -> None:
        disconnect_and_stop(self._client)


def write_rules(folder: Path, text: str, name: str = "rules.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def status_of(engine: RulesEngine, name: str) -> RuleStatus:
    return next(s for s in engine.status() if s.name == name)


def aws_client(env: dict[str, str], service: str):
    """A second, independent boto3 client on the same endpoint, to check what the actions wrote."""
    import boto3

    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
