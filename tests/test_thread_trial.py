"""The Lambda's OpenVINO threads: OpenVINO's default and one thread fewer take turns, and the faster loop is kept."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from simulator.inference import adapter, devices
from simulator.inference.adapter import OpenVINOModel
from simulator.inference.store import ensure_model
from simulator.inference.thread_trial import MAX_SETTLE_S, LoadWatch, ThreadTrial, TrialTurn


@pytest.fixture(autouse=True)
def own_turn(monkeypatch):
    """Each test has the process's trial turn to itself (a model of another test may still hold it)."""
    monkeypatch.setattr(adapter, "TURN", TrialTurn())


NOISE = (0.96, 1.04, 1.00, 0.97, 1.03)  # blocks of a real loop run some per cent slower or faster than others


def drive(trial: ThreadTrial, period: dict[int, float], stall: tuple[int, float] | None = None,
          noise: tuple[float, ...] = (1.0,)) -> list[int]:
    """Call ``next_call`` on a clock that advances ``period[candidate]`` after each call until the trial chooses;
    ``stall``: (call number, seconds) added once, as a stopped process would; ``noise``: factors of the period, one
    per block in turn. Returns the candidate of each call."""
    now, ran = 100.0, []
    while trial.chosen is None:
        candidate = trial.next_call(now)
        ran.append(candidate)
        now += period[candidate] * noise[trial._block % len(noise)]
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
    # tried again while one thread fewer runs: a tie keeps it, and the default needs the margin too
    assert drive(t := ThreadTrial(block_s=0.1).fresh(incumbent=1), {0: 1 / 30, 1: 1 / 30})[-1] == 1
    assert drive(ThreadTrial(block_s=0.1).fresh(1), {0: 0.0100, 1: 0.0101})[-1] == 1
    assert drive(ThreadTrial(block_s=0.1).fresh(1), {0: 0.010, 1: 0.012})[-1] == 0


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


def test_blocks_too_close_to_tell_apart_are_followed_by_more_up_to_a_limit():
    drive(trial := ThreadTrial(block_s=0.1, blocks=6, max_blocks=16), {0: 0.011, 1: 0.010}, noise=NOISE)
    assert trial.chosen == 1 and [len(b) for b in trial.blocks_run] == [6, 6]  # 10 % apart: clear at once
    drive(trial := ThreadTrial(block_s=0.1, blocks=6, max_blocks=16), {0: 0.0105, 1: 0.010}, noise=NOISE)
    assert trial.chosen == 1 and 6 < len(trial.blocks_run[0]) == len(trial.blocks_run[1]) < 16  # 5 %: a few more
    drive(trial := ThreadTrial(block_s=0.1, blocks=6, max_blocks=16), {0: 0.010, 1: 0.010}, noise=NOISE)
    assert trial.chosen == 0 and [len(b) for b in trial.blocks_run] == [16, 16]  # the same: the limit, the default
    assert ThreadTrial(max_blocks=9).fresh(1).max_blocks == 9


def watch_calls(watch: LoadWatch, periods: list[tuple[float, float]]) -> list[float]:
    """Call ``next_call`` every ``period`` s for ``seconds`` s, for each (period, seconds); the times it said True."""
    now, said = watch.since, []
    for period, seconds in periods:
        end = now + seconds
        while now < end:
            if watch.next_call(now):
                said.append(now - watch.since)
            now += period
    return said


def test_the_watch_asks_again_when_the_loop_rate_has_moved_for_windows_in_a_row():
    template = LoadWatch(window_s=1.0, window_calls=10, windows=2, drift=0.2, settle_s=5.0)
    watch = template.started(rate=50.0, now=100.0)
    assert (watch.rate, watch.since, watch.settle_s) == (50.0, 100.0, 5.0)
    assert watch_calls(watch, [(1 / 55, 60.0)]) == []  # 10 % off: the same load
    # a busy machine: the loop drops to 30/s after 10 s; two windows later it asks
    said = watch_calls(template.started(50.0, 0.0), [(1 / 50, 10.0), (1 / 30, 10.0)])
    assert said and 12.0 <= said[0] <= 13.1
    # faster counts too (the load went away), and nothing is asked while settling
    said = watch_calls(template.started(50.0, 0.0), [(1 / 80, 30.0)])
    assert said and 7.0 <= said[0] <= 7.1
    # a process stopped for 5 s in every window (a debugger, a suspended laptop) is not a slower loop
    assert watch_calls(template.started(50.0, 0.0), [(1 / 50, 10.0), *[(5.0, 5.0), (1 / 50, 0.8)] * 6]) == []
    # a Lambda that calls the model twice a loop: short and long periods in turn, 50 calls/s all the same
    assert watch_calls(template.started(50.0, 0.0), [*[(0.005, 0.005), (0.035, 0.035)] * 1500]) == []
    # one window off is not enough
    assert watch_calls(template.started(50.0, 0.0), [(1 / 50, 10.0), (1 / 30, 1.0), (1 / 50, 20.0)]) == []
    # a slow loop still needs its calls per window
    assert watch_calls(template.started(0.5, 0.0), [(3.0, 60.0)]) == []  # two windows of 10 calls: 60 s
    assert watch_calls(template.started(0.5, 0.0), [(3.0, 70.0)]) == [66.0]
    assert watch_calls(template.started(0.0, 0.0), [(1 / 10, 30.0)]) == []  # no rate: nothing to compare


def test_one_trial_at_a_time_and_a_holder_that_is_gone_or_stale_gives_way():
    turn, a, b = TrialTurn(stale_s=60.0), OpenVINOModel.__new__(OpenVINOModel), OpenVINOModel.__new__(OpenVINOModel)
    assert turn.take(a, 0.0) and turn.take(a, 1.0)
    assert not turn.take(b, 10.0)
    turn.give(b)  # not b's to give
    assert not turn.take(b, 20.0)
    turn.give(a)
    assert turn.take(b, 21.0)
    assert turn.take(a, 21.0 + 60.0)  # b held it 60 s without choosing
    turn.give(a)
    c = OpenVINOModel.__new__(OpenVINOModel)
    assert turn.take(c, 100.0)
    del c  # a model dropped while its trial ran
    assert turn.take(b, 101.0)


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

        def get_property(self, name):
            return devices.core().get_property(name)

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


def loop_model(model: OpenVINOModel, extra: dict[int, float], until, seconds: float = 60.0) -> None:
    """Run ``model`` as a Lambda's loop would, with ``extra`` seconds of other work after an inference on that many
    threads, until ``until()`` is true."""
    tensor = model.prepare(np.random.default_rng(1).integers(0, 255, (*model.input_hw, 3), dtype=np.uint8))
    deadline = time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, f"not done within {seconds} s"
        model.run(tensor)
        time.sleep(extra.get(model.threads, 0.0))


def test_the_threads_are_tried_again_when_the_load_changes_and_less_often_when_it_changes_nothing(hotdog_ir, caplog):
    """Real OpenVINO: the default is kept while the other candidate's loop is slower; then the default's loop
    slows down (as a busy machine would slow it): the watch sees the rate move, the two are tried again, and the
    other is kept. A second move that slows both (the other a little more) keeps the threads, and doubles the wait
    before the next."""
    model = OpenVINOModel(devices.core().read_model(str(hotdog_ir)), "CPU", "efficientnet-lite3")
    default = model.threads
    if default < 2:
        pytest.skip(f"OpenVINO runs on {default} thread here: there is no fewer to try")
    fewer = default - 1
    said: list[str] = []
    watch = LoadWatch(window_s=0.3, window_calls=5, windows=2, drift=0.3, settle_s=0.3)
    assert model.try_fewer_threads(said.append, ThreadTrial(block_s=0.15, blocks=2), watch)
    loop_model(model, {fewer: 0.03}, lambda: len(said) == 1)
    assert model.threads == default and f"on {_n(default)}" in said[0]
    with caplog.at_level("INFO", logger="simulator.inference.adapter"):
        loop_model(model, {default: 0.06, fewer: 0.0}, lambda: len(said) == 2)
    assert f"trying {_n(default)} and {_n(fewer)} again" in caplog.text
    assert model.threads == fewer and f"on {_n(fewer)}" in said[1]
    assert model.runs_on() == f"CPU (f32, {_n(fewer)})"
    assert model._trials.settle_s == watch.settle_s  # it changed the threads: the watch starts over as it was
    loop_model(model, {default: 0.27, fewer: 0.25}, lambda: len(said) == 3)  # both slower: the same kept
    assert model.threads == fewer and model._trials.settle_s == 2 * watch.settle_s
    assert min(2 ** 20 * watch.settle_s, MAX_SETTLE_S) == MAX_SETTLE_S


def _n(threads: int) -> str:
    return f"{threads} thread{'s' if threads != 1 else ''}"


def test_two_models_of_one_lambda_take_turns(hotdog_ir):
    """A Lambda that runs two models in its loop: their trials would time each other's candidates, so the second
    waits until the first has chosen."""
    core = devices.core()
    models = [OpenVINOModel(core.read_model(str(hotdog_ir)), "CPU", f"model {i}") for i in (1, 2)]
    if models[0].threads < 2:
        pytest.skip("one OpenVINO thread here")
    said: list[str] = []
    for m in models:
        assert m.try_fewer_threads(said.append, ThreadTrial(block_s=0.1, blocks=2), LoadWatch(settle_s=3600))
    tensor = models[0].prepare(np.zeros((*models[0].input_hw, 3), np.uint8))
    overlapped, deadline = False, time.monotonic() + 60
    while len(said) < 2:
        assert time.monotonic() < deadline, f"both trials did not choose within 60 s: {said}"
        for m in models:
            m.run(tensor)
        overlapped |= all(m._trial is not None or m._trials.compiling for m in models)
    assert not overlapped
    assert said[0].startswith("OpenVINO runs model 1 on") and said[1].startswith("OpenVINO runs model 2 on")
