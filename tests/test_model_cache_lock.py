"""Compiles into one OpenVINO model cache take turns across processes (``devices.compile_model``).

OpenVINO's cache is not safe across processes: a process that looks up a blob another is still writing removes it,
and the writer fails ("cannot set permissions: No such file or directory"). The window is under 0.1 s at the end
of a compile, too narrow to hit on purpose in a test; what is tested is that two processes never compile into
one folder at once, and that a folder held too long is passed over.
"""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest
from filelock import FileLock

from simulator.inference import devices
from simulator.inference.store import ensure_model

SPAWN = mp.get_context("spawn")  # a Lambda's process is a fresh interpreter
CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}


class RecordingCore:
    """The process's Core, noting when each compile itself starts and ends (after any wait for the lock)."""

    def __init__(self, spans: list[tuple[float, float]]) -> None:
        self._core, self._spans = devices.core(), spans

    def get_property(self, name):
        return self._core.get_property(name)

    def compile_model(self, *args, **kwargs):
        start = time.monotonic()  # CLOCK_MONOTONIC: one clock for all processes of this machine
        try:
            return self._core.compile_model(*args, **kwargs)
        finally:
            self._spans.append((start, time.monotonic()))


def _compile(xml: str, cache: str, start, out) -> None:
    spans: list[tuple[float, float]] = []
    start.wait()
    compiled = devices.compile_model(xml, "CPU", {**CONFIG, "CACHE_DIR": cache}, with_core=RecordingCore(spans))
    compiled.create_infer_request().infer()  # a usable model, from the compile or from the other's blob
    out.put(spans[0])


@pytest.fixture(scope="module")
def model_xml() -> str:
    return str(ensure_model("efficientnet-lite3"))


def test_two_processes_compiling_one_model_into_one_cache_take_turns(model_xml, tmp_path):
    start, out = SPAWN.Barrier(2), SPAWN.Queue()
    workers = [SPAWN.Process(target=_compile, args=(model_xml, str(tmp_path), start, out)) for _ in range(2)]
    for w in workers:
        w.start()
    spans = sorted(out.get(timeout=300) for _ in workers)
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    (first_start, first_end), (second_start, _) = spans
    assert second_start >= first_end, f"the compiles overlapped: {spans}"
    assert len(list(tmp_path.glob("*.blob"))) == 1


def test_a_cache_held_too_long_by_another_is_passed_over(model_xml, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(devices, "COMPILE_LOCK_WAIT_S", 0.5)
    config = {**CONFIG, "CACHE_DIR": str(tmp_path)}
    with FileLock(tmp_path / ".compile.lock"):  # another holder: a separate lock file handle, as a process has
        with caplog.at_level("WARNING", logger="simulator.inference.devices"):
            devices.compile_model(model_xml, "CPU", config).create_infer_request().infer()
        assert f"OpenVINO's model cache {tmp_path} stayed locked by another process for 0.5 s: compiling without " \
               "it" in caplog.text
        assert not list(tmp_path.glob("*.blob"))  # it did not write into a folder it does not hold
    devices.compile_model(model_xml, "CPU", config)
    assert len(list(tmp_path.glob("*.blob"))) == 1  # held again, the cache is used

