"""What the fleet tests share: a publisher on the real embedded broker of ``tests/conftest.py``'s ``broker``. Test
modules use it with ``pytest_plugins = ["tests.fleet.fixtures"]``."""

from __future__ import annotations

import pytest

from simulator.ipc.mqtt import MqttLink


@pytest.fixture
def link(broker):
    lk = MqttLink("127.0.0.1", broker.port, client_id="test-publisher").start()
    yield lk
    lk.stop()
