"""Spine efficiency: the simulator's loop rate against a plain OpenCV + OpenVINO script, side by side in one run.

Method. The same loop on the same 4 MP clip (2688x1520, the DeepLens camera format, made from the demo clip):
  (a) a sample Lambda, unmodified, inside the simulator (host profile: camera thread → shared-memory frame slot →
      Lambda process → OpenVINO → project stream + MQTT publish); its rate is read from the Lambda's counters;
  (b) a plain script that reads the clip with OpenCV, resizes, runs OpenVINO directly, draws, JPEG-encodes at 480p
      and makes the JSON, as the sample does. For object detection it runs the same SSD heads graph with the same
      numpy box decoding the simulator's substitute runs; for hot dog the same EfficientNet-Lite3. It compiles with
      OpenVINO's defaults (plus the precision hint the simulator is given, if any): what a user's script gets.
Samples: object_detection and hotdog. Loads: an idle machine, and one busy core (a multiprocessing process
spinning for the whole condition). Per condition and sample, each round runs (a), (a) with --every-frame and (b) —
which one goes first rotates — and the ratios to (b) of inferences per second are printed per round and as medians.
The camera plays the clip at its own 30 fps in (a), as a real camera would, while (b) decodes a frame whenever its
loop asks: "new/s" is how many of (a)'s frames were new (getLastFrame counts repeats), "made/s" how many the camera
converted and put into the slot (the rest it only decoded: nobody was to read them). So (a) also runs with
``--every-frame`` (the clip advances one frame per frame the Lambda reads): then both decode exactly the frames
they infer on, and "every/s" against (b) is the simulator's own overhead on the same work.
os.getloadavg() is printed before and after each condition: other work on the machine disturbs the figures.

Usage: python bench/spine_fps.py [--seconds 15] [--rounds 3] [--samples object_detection,hotdog] [--loads idle,busy]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.inference import devices  # noqa: E402
from simulator.inference.store import ensure_model  # noqa: E402

SIZE = (2688, 1520)
SAMPLES = ("object_detection", "hotdog")
MODELS = {"object_detection": "ssd-mobilenet-v2-coco", "hotdog": "efficientnet-lite3"}
ORDERS = (("plain", "sim", "every"), ("sim", "every", "plain"), ("every", "plain", "sim"))
MODES = {"camera": "camera at the clip's 30 fps (the default)", "every": "--every-frame"}


def make_clip(path: Path, seconds: int = 4) -> Path:
    """A 30 fps 4 MP mp4 of the demo clip's first ``seconds``."""
    from simulator.camera.democlip import ensure_demo_clip

    src = cv2.VideoCapture(str(ensure_demo_clip()))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, SIZE)
    for _ in range(30 * seconds):
        ok, frame = src.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, SIZE, interpolation=cv2.INTER_LINEAR))
    writer.release()
    src.release()
    return path


def loadavg() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# --- (b) the plain script ------------------------------------------------------------------------------------

def plain_config() -> dict[str, str]:
    """OpenVINO's defaults, plus the precision hint the simulator gets (DEEPLENS_SIM_PRECISION)."""
    precision = os.environ.get("DEEPLENS_SIM_PRECISION")
    return {"INFERENCE_PRECISION_HINT": precision} if precision else {}


class PlainClip:
    """The clip read with OpenCV, looping."""

    def __init__(self, clip: Path) -> None:
        self.cap = cv2.VideoCapture(str(clip))

    def read(self) -> np.ndarray:
        ok, frame = self.cap.read()
        if not ok:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        return frame

    def close(self) -> None:
        self.cap.release()


@dataclass
class PlainStages:
    """One sample's loop as plain OpenCV + OpenVINO calls, a function per stage (``bench/stages.py`` times them)."""

    resize: Callable[[np.ndarray], np.ndarray]  # 4 MP frame -> network input tensor
    infer: Callable[[np.ndarray], list[np.ndarray]]  # OpenVINO
    decode: Callable[[list[np.ndarray]], list[tuple[str, float, tuple[int, int, int, int] | None]]]
    draw: Callable[[np.ndarray, list], dict[str, float]]  # on the 4 MP frame; returns the JSON's dict

    @staticmethod
    def encode(frame: np.ndarray) -> bytes:
        """What the sample's LocalDisplay does with the frame: 480p JPEG."""
        return cv2.imencode(".jpg", cv2.resize(frame, (858, 480)))[1].tobytes()

    def step(self, frame: np.ndarray) -> tuple[bytes, str]:
        found = self.decode(self.infer(self.resize(frame)))
        result = self.draw(frame, found)
        return self.encode(frame), json.dumps(result)


def _request(xml_or_graph):
    core = devices.core()
    graph = core.read_model(str(xml_or_graph)) if isinstance(xml_or_graph, Path) else xml_or_graph
    request = core.compile_model(graph, "CPU", {**plain_config(), "CACHE_DIR": ""}).create_infer_request()

    def infer(tensor: np.ndarray) -> list[np.ndarray]:
        request.infer({0: tensor})
        return [request.get_output_tensor(i).data for i in range(len(request.model_outputs))]
    return infer


def plain_detection() -> PlainStages:
    from simulator.inference.substitutes.detection import COCO_TO_VOC, VOC_LABELS
    from simulator.inference.substitutes.ssd_decode import load_heads, postprocess

    heads = load_heads(devices.core(), ensure_model(MODELS["object_detection"]))
    infer = _request(heads.graph)
    w, h = SIZE

    def resize(frame):
        return cv2.cvtColor(cv2.resize(frame, (300, 300)), cv2.COLOR_BGR2RGB)[None]

    def decode(outputs):
        found = postprocess(outputs[0], outputs[1], heads.postprocess)
        return [(VOC_LABELS[COCO_TO_VOC[int(label)] - 1], float(score), tuple(int(v) for v in box * [h, w, h, w]))
                for box, score, label in zip(found.boxes, found.scores, found.labels, strict=True)
                if int(label) in COCO_TO_VOC and score > 0.25]

    def draw(frame, found):
        result = {}
        for label, score, (y0, x0, y1, x1) in found:
            cv2.rectangle(frame, (x0, y0), (x1, y1), (255, 165, 20), 10)
            text = f"{label}: {score * 100:.2f}%"
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 2.5, 6)
            ty = y0 - 15 if y0 - 15 - th >= 0 else min(frame.shape[0] - 15, y0 + th + 15)
            cv2.putText(frame, text, (max(0, min(x0, frame.shape[1] - tw)), ty), cv2.FONT_HERSHEY_SIMPLEX, 2.5,
                        (255, 165, 20), 6)
            result[label] = score
        return result
    return PlainStages(resize, infer, decode, draw)


def plain_hotdog() -> PlainStages:
    infer = _request(ensure_model(MODELS["hotdog"]))

    def resize(frame):
        return cv2.cvtColor(cv2.resize(frame, (280, 280)), cv2.COLOR_BGR2RGB)[None]

    def decode(outputs):
        p = outputs[0].reshape(-1).astype(np.float32)
        p /= max(float(p.sum()), 1e-9)
        top = np.argsort(-p)[:5]
        prob = float(p[934]) if 934 in top else 0.0
        return [("Hotdog", prob, None) if prob > 0.5 else ("Not hotdog", 1.0 - prob, None)]

    def draw(frame, found):
        label, prob, _ = found[0]
        cv2.putText(frame, f"{label}: {prob * 100:.2f}%", (10, 70), cv2.FONT_HERSHEY_SIMPLEX, 3,
                    (0, 255, 0) if label == "Hotdog" else (0, 0, 255), 6)
        return {label: prob}
    return PlainStages(resize, infer, decode, draw)


PLAIN = {"object_detection": plain_detection, "hotdog": plain_hotdog}


def plain_script(sample: str, clip: Path, seconds: float) -> float:
    """(b): inferences per second of the plain loop (after one warm-up frame)."""
    stages, source = PLAIN[sample](), PlainClip(clip)
    try:
        stages.step(source.read())
        frames, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            stages.step(source.read())
            frames += 1
        return frames / (time.perf_counter() - start)
    finally:
        source.close()


# --- (a) the simulator ---------------------------------------------------------------------------------------

def start_device(sample: str, clip: Path, every_frame: bool = False, warm: int = 3, trial: bool = True):
    """A SimulatedDevice running ``sample`` on ``clip`` (host profile), once its Lambda has done ``warm`` inferences
    and (``trial``) its OpenVINO has chosen its threads (``simulator/inference/thread_trial.py``: the Lambda's
    status then names them; at most 30 s)."""
    from simulator.config import RunConfig
    from simulator.core import SimulatedDevice

    device = SimulatedDevice(RunConfig(project=sample, source=str(clip), profile="host", mqtt_port=0,
                                       http_port=0, every_frame=every_frame)).start()
    try:
        deadline = time.monotonic() + 120
        while device.lambda_stats().get("inferences", 0) < warm:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Lambda did not start: {device.status().lambda_}")
            time.sleep(0.1)
        deadline = time.monotonic() + 30
        while trial and "thread" not in str(device.lambda_stats().get("runs_on")) and time.monotonic() < deadline:
            time.sleep(0.2)
    except BaseException:
        device.stop()
        raise
    return device


def counters(device) -> tuple[int, int, int]:
    """(inferences, new frames read, frames the camera made) from the Lambda's and the camera's counters."""
    s = device.lambda_stats()
    return (int(s.get("inferences", 0)), int(s.get("frames_read", 0)) - int(s.get("stale_frames", 0)),
            device.camera.stats.published)


def in_simulator(sample: str, clip: Path, seconds: float, every_frame: bool = False) -> tuple[float, float, float]:
    """(a): (inferences/s, new frames/s, frames made/s) of the unmodified sample Lambda, from the counters."""
    device = start_device(sample, clip, every_frame)
    try:
        time.sleep(1.0)
        (n0, f0, m0), t0 = counters(device), time.perf_counter()
        time.sleep(seconds)
        time.sleep(0.3)  # the Lambda's counters are flushed every 0.25 s
        (n1, f1, m1), t1 = counters(device), time.perf_counter() - 0.3
        return (n1 - n0) / (t1 - t0), (f1 - f0) / (t1 - t0), (m1 - m0) / (t1 - t0)
    finally:
        device.stop()


# --- the competing load --------------------------------------------------------------------------------------

def _spin() -> None:
    while True:
        pass


class BusyCore:
    """One process spinning on a core for as long as the ``with`` block lasts."""

    def __enter__(self) -> BusyCore:
        self.proc = mp.get_context("spawn").Process(target=_spin, name="busy-core", daemon=True)
        self.proc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.join(5)


def run(samples: list[str], loads: list[str], rounds: int, seconds: float, clip: Path) -> dict:
    medians: dict[tuple[str, str], float] = {}
    for load in loads:
        print(f"\n== {load}: {'one busy core' if load == 'busy' else 'no competing load'}; before: {loadavg()}")
        print(f"{'sample':>16} {'round':>5} {'first':>6} {'simulator/s':>11} {'new/s':>6} {'made/s':>6} "
              f"{'every/s':>8} {'plain/s':>8} {'ratio':>6} {'every':>6}", flush=True)
        busy = BusyCore() if load == "busy" else None
        if busy is not None:
            busy.__enter__()
        try:
            for sample in samples:
                ratios: dict[str, list[float]] = {"camera": [], "every": []}
                for r in range(rounds):
                    order = ORDERS[r % len(ORDERS)]
                    got: dict[str, tuple[float, ...]] = {}
                    for kind in order:
                        if kind == "plain":
                            got[kind] = (plain_script(sample, clip, seconds),)
                        else:
                            got[kind] = in_simulator(sample, clip, seconds, every_frame=kind == "every")
                    (sim, new, made), (every, *_), (plain,) = got["sim"], got["every"], got["plain"]
                    ratios["camera"].append(sim / plain)
                    ratios["every"].append(every / plain)
                    print(f"{sample:>16} {r + 1:>5} {order[0]:>6} {sim:11.2f} {new:6.2f} {made:6.2f} {every:8.2f} "
                          f"{plain:8.2f} {sim / plain:6.3f} {every / plain:6.3f}", flush=True)
                for mode, values in ratios.items():
                    medians[(load, sample, mode)] = statistics.median(values)
        finally:
            if busy is not None:
                busy.__exit__()
        print(f"after: {loadavg()}")
    print("\nmedian ratio simulator / plain OpenCV + OpenVINO (4 MP frames, host profile):")
    for (load, sample, mode), ratio in medians.items():
        print(f"  {load:>5}  {sample:>16}  {MODES[mode]:<40} {ratio:.3f}")
    return {f"{load}/{sample}/{mode}": ratio for (load, sample, mode), ratio in medians.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--samples", default=",".join(SAMPLES))
    ap.add_argument("--loads", default="idle,busy")
    ap.add_argument("--clip", type=Path, help="a 4 MP clip to use (default: made from the demo clip)")
    args = ap.parse_args()
    samples = [s for s in args.samples.replace(",", " ").split() if s]
    loads = [s for s in args.loads.replace(",", " ").split() if s]
    for sample in samples:
        ensure_model(MODELS[sample])
    print(f"cores: {os.cpu_count()}; precision hint: {os.environ.get('DEEPLENS_SIM_PRECISION') or 'default'}; "
          f"{loadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or make_clip(Path(tmp) / "clip4mp.mp4")
        run(samples, loads, args.rounds, args.seconds, clip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
