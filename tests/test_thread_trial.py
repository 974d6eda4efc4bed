"""The Lambda's OpenVINO threads: OpenVINO's default and one thread fewer take turns, and the faster loop is kept."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from simulator.inference import devices
from simulator.inference.adapter import OpenVINOModel
from simulator.inference.store import ensure_model
from simulator.inference.thread_trial import ThreadTrial


def drive(trial: ThreadTrial, period: dict[int, float], stall: tuple[int, float] | None = None) -> list[int]:
    """Call ``next_call`` on a clock that advances ``period[candidate]`` after each call until the trial chooses;
    ``stall``: (call number, seconds) added once, as a stopped process would. Returns the candidate of each call."""
    now, ran = 100.0, []
    while trial.chosen is None:
        candidate = trial.next_call(now)
        ran.append(candidate)
        now += period[candidate]
        if stall is not None and len(ran) == stall[0]:
            now += stall[1]
    return ran


def blocks(ran: list[int]) -> list[int]:
    return [c for i, c in enumerate(ran) if i == 0 or ran[i - 1] != c]


def test_the_faster_loop_is_kept_and_the_default_on_a_tie():
    assert ThreadTrial(block_s=0.1).chosen is None
    assert drive(t := ThreadTrial(block_s=0.1), {0: 0.012, 1: 0.010})[-1] == 1 and t.chosen == 1
    assert t.rates() == pytest.approx((1 / 0.012, 1 / 0.010))
    assert drive(t := ThreadTrial(block_s=0.1), {0: 0.010, 1: 0.012})[-1] == 0 and t.chosen == 0
    assert drive(t := ThreadTrial(block_s=0.1), {0: 1 / 30, 1: 1 / 30})[-1] == 0  # a camera's 30 fps: a tie
    assert drive(t := ThreadTrial(block_s=0.1, margin=0.02), {0: 0.0101, 1: 0.0100})[-1] == 0  # 1 % is not enough


def test_the_candidates_take_turns_abba_in_blocks_of_time_and_calls():
    ran = drive(ThreadTrial(block_s=0.1, blocks=4), {0: 0.010, 1: 0.011})
    assert blocks(ran[:-1]) == [0, 1, 0, 1, 0]  # ABBA ABBA (runs of the same candidate merge)
    assert ran[:-1].count(0) == ran[:-1].count(1) == 4 * 10  # 0.1 s of 10 ms calls, per block
    slow = drive(ThreadTrial(block_s=0.1, block_calls=5, blocks=2), {0: 1.0, 1: 1.0})
    assert len(slow) - 1 == 4 * 5  # a slow model still gets its calls per block


def test_a_stalled_block_or_a_switch_does_not_decide():
    # one block of the faster candidate stalls for 10 s (a stopped process): the median block ignores it
    trial = ThreadTrial(block_s=0.1)
    drive(trial, {0: 0.012, 1: 0.010}, stall=(15, 10.0))
    assert trial.chosen == 1
    # the period after the first call of each block is not counted: a slow first call after every switch
    trial, now, first = ThreadTrial(block_s=0.1), 0.0, True
    while trial.chosen is None:
        before = trial._block
        candidate = trial.next_call(now)
        first = trial._block != before
        now += (0.5 if first and candidate == 1 else 0.010 if candidate == 1 else 0.012)
    assert trial.chosen == 1


@pytest.fixture(scope="module")
def hotdog_ir():
    return ensure_model("efficientnet-lite3")


def run_trial(model: OpenVINOModel, extra: dict[int, float], trial: ThreadTrial) -> tuple[str, dict]:
    """Drive ``model`` as a Lambda's loop would, with ``extra`` seconds of other work after an inference on that
    many threads, until the trial has chosen; the sentence it gave and the outputs seen on each thread count."""
    said: list[str] = []
    done = threading.Event()
    assert model.try_fewer_threads(lambda text: (said.append(text), done.set()), trial)
    tensor = model.prepare(np.random.default_rng(1).integers(0, 255, (*model.input_hw, 3), dtype=np.uint8))
    outputs: dict[int, np.ndarray] = {}
    deadline = time.monotonic() + 60
    while not done.is_set():
        assert time.monotonic() < deadline, "the trial did not choose within 60 s"
        out = model.run(tensor)[0]
        outputs.setdefault(model.threads, out)
        time.sleep(extra.get(model.threads, 0.0))
    return said[0], outputs


@pytest.mark.parametrize("slow_on", ["default", "fewer"])
def test_a_real_model_keeps_the_threads_whose_loop_ran_faster(hotdog_ir, slow_on):
    """Real OpenVINO on the hot dog sample's network: the loop's work outside the inference counts, so 20 ms more
    of it after every inference on one candidate makes the other win whatever the inferences took."""
    model = OpenVINOModel(devices.core().read_model(str(hotdog_ir)), "CPU", "efficientnet-lite3")
    default = model.threads
    if default < 2:
        pytest.skip(f"OpenVINO runs on {default} thread here: there is no fewer to try")
    assert model.runs_on().endswith("(f32)")  # OpenVINO's default threads are not shown until a trial chose
    slow = default if slow_on == "default" else default - 1
    kept = default - 1 if slow_on == "default" else default
    said, outputs = run_trial(model, {slow: 0.02}, ThreadTrial(block_s=0.15, blocks=2))
    assert model.threads == kept
    assert f"on {kept} thread" in said and f"with {slow}" in said
    assert model.runs_on() == f"CPU (f32, {kept} thread{'s' if kept != 1 else ''})"
    assert set(outputs) == {default, default - 1}
    np.testing.assert_allclose(outputs[default], outputs[default - 1], rtol=1e-4, atol=1e-5)  # the same network
    model.infer(np.zeros((*model.input_hw, 3), np.uint8))
    assert model.threads == kept  # and it stays


def test_nothing_is_tried_with_threads_asked_for_or_twice(hotdog_ir, monkeypatch):
    monkeypatch.setenv("DEEPLENS_SIM_CPU_THREADS", "1")
    model = OpenVINOModel(devices.core().read_model(str(hotdog_ir)), "CPU", "efficientnet-lite3")
    assert model.runs_on() == "CPU (f32, 1 thread)"
    assert not model.try_fewer_threads(lambda text: None)
    monkeypatch.delenv("DEEPLENS_SIM_CPU_THREADS")
    model = OpenVINOModel(devices.core().read_model(str(hotdog_ir)), "CPU", "efficientnet-lite3")
    if model.threads < 2:
        pytest.skip("one OpenVINO thread here")
    assert model.try_fewer_threads(lambda text: None)
    assert not model.try_fewer_threads(lambda text: None)


def test_a_failed_compile_for_the_trial_keeps_the_default_and_inference_goes_on(hotdog_ir, caplog):
    model = OpenVINOModel(devices.core().read_model(str(hotdog_ir)), "CPU", "efficientnet-lite3")
    if model.threads < 2:
        pytest.skip("one OpenVINO thread here")

    class Refusing:  # the process's Core, but refusing the second compile (as a full disk or a plugin fault would)
        def compile_model(self, *args, **kwargs):
            raise RuntimeError("no room for a second compiled model")

    model._core = Refusing()
    with caplog.at_level("WARNING", logger="simulator.inference.adapter"):
        assert model.try_fewer_threads(lambda text: pytest.fail(f"nothing was tried, yet: {text}"))
        deadline = time.monotonic() + 30
        while "compiling with" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    fewer = f"{model.threads - 1} thread{'s' if model.threads - 1 != 1 else ''}"
    assert f"efficientnet-lite3: compiling with {fewer} failed, keeping {model.threads}: no room for a second " \
           "compiled model" in caplog.text
    before = model.threads
    out = model.infer(np.zeros((*model.input_hw, 3), np.uint8))
    assert out and model.threads == before and model.runs_on() == "CPU (f32)"
