"""The embedded broker is amqtt (a subclass of its Broker, in a process of its own, on uvloop when installed), built
on the amqtt code that was reviewed: an amqtt upgrade that changes any method the hardening overrides or relies on
fails here. The broker's process ends with the process that started it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import amqtt
import psutil
import pytest
from amqtt.broker import Broker

from simulator.broker import amqtt_review
from simulator.broker.hardened import HardenedBroker
from tests.conftest import ROOT
from tests.test_broker_auth import eventually


def test_the_embedded_broker_is_amqtt_in_a_process_of_its_own(broker):
    assert issubclass(HardenedBroker, Broker)
    child = psutil.Process(broker._process.pid)  # noqa: SLF001 - what runs is the point
    assert child.cmdline()[-2:] == ["-m", "simulator.broker.child"] and child.ppid() == os.getpid()
    assert broker._process.info["amqtt"] == amqtt.__version__  # noqa: SLF001
    assert broker.stats().impl == "amqtt"


def test_the_amqtt_code_the_hardening_builds_on_is_the_reviewed_code():
    assert amqtt_review.changes() == []
    pinned = re.search(r"^amqtt==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pinned is not None and pinned.group(1) == amqtt.__version__ == amqtt_review.REVIEWED_VERSION


def test_a_changed_amqtt_method_is_reported(monkeypatch):
    name = "amqtt.broker.Broker._handle_message_delivery"
    monkeypatch.setitem(amqtt_review.REVIEWED, name, "0" * 16)  # as if the installed source differed
    assert amqtt_review.changes() == [name]
    assert amqtt_review.digest("amqtt.broker.Broker.no_such_method") == "missing"


def test_it_runs_on_uvloop_when_installed(broker):
    pytest.importorskip("uvloop")
    assert broker._process.info["loop"] == "uvloop"  # noqa: SLF001


STARTER = """
import sys
sys.path.insert(0, sys.argv[1])
from simulator.broker.embedded import EmbeddedBroker
b = EmbeddedBroker("127.0.0.1", 0).start()
print(b._process.pid, b.port, flush=True)
sys.stdin.read()
"""


def test_the_broker_process_ends_with_the_process_that_started_it():
    parent = subprocess.Popen([sys.executable, "-c", STARTER, str(ROOT)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        pid, port = (int(v) for v in parent.stdout.readline().split())
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        parent.kill()  # no chance to stop its broker
        parent.wait(10)
        assert psutil.wait_procs([psutil.Process(pid)], timeout=10)[1] == []  # gone, not left behind
    finally:
        parent.kill()


def test_a_broker_process_that_died_is_reported_not_waited_for(broker, caplog):
    before = broker.stats()
    psutil.Process(broker._process.pid).kill()  # noqa: SLF001
    assert broker.stats() == before  # the last counters known
    broker.host_thing("after_death")
    assert "the MQTT broker process exited" in caplog.text
    assert eventually(lambda: "exited unexpectedly" in caplog.text)  # said even if nobody asks
    broker.stop()
