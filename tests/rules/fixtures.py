"""Fixtures of the rules tests, used as a pytest plugin (``pytest_plugins = ["tests.rules.fixtures"]``): a real
paho publisher on the real embedded broker of ``tests/conftest.py``'s ``broker``, a real moto server, and engines
started from rules text (all stopped after the test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.ipc.mqtt import MqttLink
from simulator.rules import RulesEngine, load_rules
from tests.rules.support import Publisher, write_rules


@pytest.fixture
def rules_publisher(broker):
    pub = Publisher(broker.port)
    yield pub
    pub.stop()


@pytest.fixture
def start_engine(broker, tmp_path):
    """start_engine(rules_text or path, env=..., **engine options) -> a started RulesEngine (stopped after)."""
    engines: list[RulesEngine] = []

    def make(rules: str | Path, env: dict[str, str] | None = None, **options: Any) -> RulesEngine:
        path = rules if isinstance(rules, Path) else write_rules(tmp_path, rules)
        options.setdefault("work_dir", tmp_path / "work")
        options.setdefault("thing_name", "deeplens_test")
        port = broker.port
        engine = RulesEngine(load_rules([path]), lambda cid: MqttLink("127.0.0.1", port, client_id=cid),
                             env=env or {}, **options)
        engines.append(engine.start())
        return engine

    yield make
    for engine in engines:
        engine.stop()


@pytest.fixture(scope="module")
def moto_env():
    """A real moto server (all services on one port) and the environment that points the engine at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1", "DEEPLENS_SIM_CLOUD": "local"}
    server.stop()
