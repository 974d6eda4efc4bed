"""Simulator overhead, measured side by side in one run.

The same detection loop on the same 4 MP clip (2688x1520, the DeepLens camera format):
  (a) the object-detection sample Lambda, unmodified, inside the simulator (host profile: camera thread →
      shared-memory frame slot → Lambda process → OpenVINO → project stream + MQTT publish);
  (b) a plain script that reads the clip with OpenCV and calls OpenVINO directly on the same IR, drawing and
      JPEG-encoding the same way.
Both are measured in alternating rounds; the ratio of their loop rates (a)/(b) — inferences per second — is
printed per round and as the median. The camera plays the clip at its own 30 fps in (a), as a real camera would,
while (b) decodes a frame whenever its loop asks: when the loop is faster than 30 fps, (a) also runs inference on
frames it has seen before (getLastFrame counts them); the "new frames/s" column shows how many were new.
Usage: python bench/spine_fps.py [--seconds 15] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.config import RunConfig  # noqa: E402
from simulator.core import SimulatedDevice  # noqa: E402
from simulator.inference import devices  # noqa: E402
from simulator.inference.store import ensure_model  # noqa: E402

SIZE = (2688, 1520)


def make_clip(path: Path, seconds: int = 4) -> Path:
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


def plain_script(clip: Path, seconds: float) -> float:
    """(b): OpenCV + OpenVINO directly, the sample's loop without the simulator."""
    compiled = devices.compile_model(devices.core().read_model(str(ensure_model("ssd-mobilenet-v2-coco"))), "CPU")
    request = compiled.create_infer_request()
    names = {n: i for i, o in enumerate(compiled.outputs) for n in o.get_names()}
    cap = cv2.VideoCapture(str(clip))
    frames, start = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        small = cv2.cvtColor(cv2.resize(frame, (300, 300)), cv2.COLOR_BGR2RGB)
        out = request.infer(small[None])
        boxes = out[names["detection_boxes:0"]][0]
        scores = out[names["detection_scores:0"]][0]
        result = {}
        for box, score in zip(boxes, scores, strict=True):
            if score > 0.25:
                y0, x0, y1, x1 = (box * [SIZE[1], SIZE[0], SIZE[1], SIZE[0]]).astype(int)
                cv2.rectangle(frame, (x0, y0), (x1, y1), (255, 165, 20), 10)
                result[str(len(result))] = float(score)
        cv2.imencode(".jpg", cv2.resize(frame, (858, 480)))
        json.dumps(result)
        if start is None:  # the first frame warms up
            start, frames = time.perf_counter(), 0
            continue
        frames += 1
        if time.perf_counter() - start >= seconds:
            return frames / (time.perf_counter() - start)


def in_simulator(clip: Path, seconds: float) -> tuple[float, float]:
    """(a): the unmodified sample Lambda in the simulator: (inferences/s, new frames/s) from its counters."""
    device = SimulatedDevice(RunConfig(project="object_detection", source=str(clip), profile="host",
                                       mqtt_port=0, http_port=0)).start()
    try:
        deadline = time.monotonic() + 120
        while device.lambda_stats().get("inferences", 0) < 3:  # model loaded and warm
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Lambda did not start: {device.status().lambda_}")
            time.sleep(0.1)
        def counters() -> tuple[int, int]:
            s = device.lambda_stats()
            return s["inferences"], s.get("frames_read", 0) - s.get("stale_frames", 0)

        (n0, f0), t0 = counters(), time.perf_counter()
        time.sleep(seconds)
        time.sleep(0.3)  # the Lambda's counters are flushed every 0.25 s
        (n1, f1), t1 = counters(), time.perf_counter() - 0.3
        return (n1 - n0) / (t1 - t0), (f1 - f0) / (t1 - t0)
    finally:
        device.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    ensure_model("ssd-mobilenet-v2-coco")
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip4mp.mp4")
        ratios = []
        print(f"{'round':>5}  {'simulator fps':>13}  {'(new frames/s)':>14}  {'plain fps':>9}  {'ratio':>6}")
        for r in range(args.rounds):
            plain = plain_script(clip, args.seconds)
            sim, new = in_simulator(clip, args.seconds)
            ratios.append(sim / plain)
            print(f"{r + 1:>5}  {sim:13.2f}  {new:14.2f}  {plain:9.2f}  {sim / plain:6.3f}", flush=True)
    print(f"median ratio simulator / plain OpenVINO+OpenCV: {statistics.median(ratios):.3f} "
          f"(4 MP frames, object-detection sample, host profile)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
