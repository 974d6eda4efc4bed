"""Spine efficiency, interleaved: the simulator and the plain loop take turns on the machine, a few seconds each.

Method. ``bench/spine_fps.py`` measures the simulator and the plain loop one after the other, 8-15 s each; on a
machine whose speed drifts (a VM, other work) two runs a minute apart differ by up to 10 %, as much as the effect
measured. Here both exist at once and take turns:
  (a) the unmodified sample in a SimulatedDevice with ``--every-frame`` (host profile, the 4 MP clip), once its
      OpenVINO has chosen its threads (the trial of ``simulator/inference/thread_trial.py``, before the pairs);
  (b) the plain OpenCV + OpenVINO loop of ``bench/spine_fps.py``, in a process of its own.
In each window one side runs and the other is stopped (SIGSTOP). With its Lambda process stopped the simulator
does nothing: the camera waits for the Lambda's read (``--every-frame``), the broker for its messages. Windows of
``--window`` s alternate in the order ABBA; the first ``SETTLE`` (2 s) after a side resumes
are not counted (with 0.5 s the simulator's first window after a plain one ran about 12 % slow). (a)'s rate is the
JSON results on its infer topic (the samples publish one per inference) received in the window, (b)'s its own
counter. Printed: each pair's ratio (a)/(b), and the median and quartiles of the pairs. Camera mode cannot be
interleaved: its camera decodes the clip at 30 fps whether or not the Lambda runs. ``--load busy`` adds one
process spinning on a core for the whole run. os.getloadavg() is printed before and after.

Usage: python bench/spine_interleaved.py [--samples object_detection,hotdog] [--pairs 8] [--window 5]
                                         [--load idle|busy] [--clip CLIP]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spine_fps import MODELS, PLAIN, SAMPLES, BusyCore, PlainClip, loadavg, make_clip, start_device  # noqa: E402

from simulator.inference.store import ensure_model  # noqa: E402

SETTLE = 2.0  # s after a resume that are not counted


def _plain_loop(sample: str, clip: str, counter) -> None:
    """(b), until terminated: the plain loop, counting its inferences."""
    stages, source = PLAIN[sample](), PlainClip(Path(clip))
    while True:
        stages.step(source.read())
        with counter.get_lock():
            counter.value += 1


class ResultCounter:
    """JSON results on the device's infer topic, counted as they arrive (the core's own subscription)."""

    def __init__(self, device) -> None:
        self.topic, self.count, self._lock = device.infer_topic, 0, threading.Lock()
        device.messages.listen(self._on)

    def _on(self, msg) -> None:
        if msg.topic == self.topic and msg.payload.lstrip()[:1] == b"{":
            with self._lock:
                self.count += 1

    def value(self) -> int:
        with self._lock:
            return self.count


def _window(pid: int, count, seconds: float) -> float:
    """Resume ``pid``, count over ``seconds`` after the settling time, stop it again; the rate per second."""
    os.kill(pid, signal.SIGCONT)
    try:
        time.sleep(SETTLE)
        c0, t0 = count(), time.perf_counter()
        time.sleep(seconds)
        return (count() - c0) / (time.perf_counter() - t0)
    finally:
        os.kill(pid, signal.SIGSTOP)


def interleaved(sample: str, clip: Path, pairs: int, seconds: float) -> list[tuple[float, float]]:
    """(simulator/s, plain/s) for each pair of windows."""
    ctx = mp.get_context("spawn")
    counter = ctx.Value("l", 0)
    plain = ctx.Process(target=_plain_loop, args=(sample, str(clip), counter), daemon=True)
    plain.start()
    device = None
    try:
        while counter.value < 3:  # compiled and warm
            if not plain.is_alive():
                raise RuntimeError("the plain loop died before its third inference")
            time.sleep(0.1)
        os.kill(plain.pid, signal.SIGSTOP)
        device = start_device(sample, clip, every_frame=True)
        results = ResultCounter(device)
        print(f"{sample:>16} runs on {device.lambda_stats().get('runs_on')}", flush=True)
        lambda_pid = device.status().lambda_.pid
        if lambda_pid is None:
            raise RuntimeError(f"the Lambda is not running: {device.status().lambda_}")
        os.kill(lambda_pid, signal.SIGSTOP)
        out = []
        for i in range(pairs):
            sim_first = i % 2 == 0  # ABBA: each side goes first in every other pair
            got = {}
            for side in (("sim", "plain") if sim_first else ("plain", "sim")):
                if side == "sim":
                    got[side] = _window(lambda_pid, results.value, seconds)
                else:
                    got[side] = _window(plain.pid, lambda: counter.value, seconds)
            out.append((got["sim"], got["plain"]))
            print(f"{sample:>16} {i + 1:>5} {'sim' if sim_first else 'plain':>6} {got['sim']:11.2f} "
                  f"{got['plain']:8.2f} {got['sim'] / got['plain']:6.3f}", flush=True)
        os.kill(lambda_pid, signal.SIGCONT)
        threads = getattr(device.camera.source, "threads", None)  # 0 once it fell behind (FFmpeg's own number)
        print(f"{sample:>16} camera decoder threads at the end: {'one per core' if threads == 0 else threads}; "
              f"runs on {device.lambda_stats().get('runs_on')} (tried again when its loop's rate moves)", flush=True)
        return out
    finally:
        if plain.pid is not None:
            os.kill(plain.pid, signal.SIGCONT)
        plain.terminate()
        plain.join(5)
        if device is not None:
            pid = device.status().lambda_.pid
            if pid is not None:
                os.kill(pid, signal.SIGCONT)
            device.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", default=",".join(SAMPLES))
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--window", type=float, default=5.0, help="seconds counted per window")
    ap.add_argument("--load", choices=("idle", "busy"), default="idle")
    ap.add_argument("--clip", type=Path, help="a 4 MP clip to use (default: made from the demo clip)")
    args = ap.parse_args()
    samples = [s for s in args.samples.replace(",", " ").split() if s]
    for sample in samples:
        ensure_model(MODELS[sample])
    print(f"cores: {os.cpu_count()}; precision hint: {os.environ.get('DEEPLENS_SIM_PRECISION') or 'default'}; "
          f"load: {args.load}; before: {loadavg()}")
    print(f"{'sample':>16} {'pair':>5} {'first':>6} {'simulator/s':>11} {'plain/s':>8} {'ratio':>6}")
    summary = {}
    with tempfile.TemporaryDirectory() as tmp, BusyCore() if args.load == "busy" else contextlib.nullcontext():
        clip = args.clip or make_clip(Path(tmp) / "clip4mp.mp4")
        for sample in samples:
            summary[sample] = [s / p for s, p in interleaved(sample, clip, args.pairs, args.window)]
    print(f"after: {loadavg()}")
    print(f"\nratio simulator (--every-frame) / plain OpenCV + OpenVINO, 4 MP frames, host profile, {args.load}:")
    for sample, ratios in summary.items():
        q1, q2, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
        print(f"  {sample:>16}  median {statistics.median(ratios):.3f}  quartiles {q1:.3f} / {q3:.3f}  "
              f"({sum(r >= 0.95 for r in ratios)} of {len(ratios)} pairs at 0.95 or more)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
