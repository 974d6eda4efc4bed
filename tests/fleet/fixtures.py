"""What the fleet tests share: a real embedded broker and a publisher on it. Test modules use them with
``pytest_plugins = ["tests.fleet.fixtures"]``."""

from __future__ import annotations

import pytest

from simulator.broker.embedded import EmbeddedBroker
from simulator.ipc.mqtt import MqttLink


@pytest.fixture
def broker():
    b = EmbeddedBroker("127.0.0.1", 0).start()
    yield b
    b.stop()


@pytest.fixture
def link(broker):
    lk = MqttLink("127.0.0.1", broker.port, client_id="test-publisher").start()
    yield lk
    lk.stop()
