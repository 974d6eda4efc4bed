"""How a classroom on one machine scales: 1, 2, 4 and 8 simulated devices.

Method. For each N, ``Fleet`` runs N devices in this process exactly as ``main.py fleet`` does (one shared broker,
one shared decoder of the bundled 720p demo clip, one web viewer each, thumbnails and info published): the
object-detection sample (SSD-MobileNetV2 on OpenVINO's CPU plugin, f32) with the unpaced ``host`` profile. Once
every device has published its first result, the run settles for ``--settle`` seconds (20 by default: a Lambda alone
runs its thread trial, 6-16 s, first), then for ``--seconds`` seconds the Lambdas' own counters (inferences,
publishes) are read at the start and the end of the window, and each device's latest doInference latency is sampled
twice a second. Printed per N: results published per second in all, inferences per second in all, per-device latency
(mean of the samples over all devices, and the slowest device's mean), and the ratio "total results/s with N devices
/ total results/s with one" — the goal is >= 0.9 at N = 4: adding devices to a busy machine must not lose
throughput, only share it. The load average (``os.getloadavg()``) before and after each run is printed too: the
machine is shared, and other work on it lowers every figure.

Each Lambda's OpenVINO gets the fleet's share of the cores (``FleetOptions.threads_per_device``: the physical
cores divided among the devices, at least one thread each, unpinned; one device alone keeps OpenVINO's default).
``--compare-openvino-default`` also runs every N > 1 with OpenVINO's default in every Lambda (a thread per core,
pinned: ``--cpu-threads 0``), in the same round, so both are printed side by side.

With ``--rounds R`` the whole sequence is repeated R times and each figure is the median of its rounds (the
ratio is taken within each round, against that round's one-device run, then the median); in every other round
the runs after the one-device run go in reverse order.

One device must be bound by its compute for the ratio to say anything: on a machine that infers faster than the
demo clip's 30 fps, one device makes the clip's 30 results/s whatever the simulator costs. ``--clip-fps F`` plays
the demo clip's frames re-timed to F fps (written once to a temporary file; 120 leaves every device compute-bound
on the 2-core test machine); the one-device run prints its rate, to be compared with the clip's rate.

Usage: python bench/fleet_capacity.py [--devices 1 2 4 8] [--seconds 20] [--settle 20] [--rounds 1] [--json]
                                      [--compare-openvino-default] [--clip-fps F]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DEEPLENS_SIM_PRECISION", "f32")
os.environ.setdefault("DEEPLENS_SIM_HOME", tempfile.mkdtemp(prefix="fleet-bench-"))  # thing names, shadows

from simulator.fleet.runner import Fleet, FleetOptions  # noqa: E402


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def wait_first_results(fleet: Fleet, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        waiting = [d.thing_name for d in fleet.devices
                   if (s := d.status().startup) is None or s.first_result_s is None]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"no first result from {', '.join(waiting)} within {timeout:g} s")
        time.sleep(0.5)


def measure(n: int, seconds: float, settle: float, source: str, cpu_threads: int | None = None) -> dict:
    load_before = load()
    fleet = Fleet(FleetOptions(devices=n, sources=[source], project="object_detection", profile="host",
                               http_port=0, mqtt_port=0, baseline_seconds=0, thing_prefix=f"bench{n}",
                               cpu_threads=cpu_threads))
    threads = fleet.options.threads_per_device()
    try:
        fleet.start()
        wait_first_results(fleet, timeout=120 + 30 * n)
        time.sleep(settle)
        devices = list(fleet.devices)
        [fan] = fleet.sources.fanouts.values()
        decoded0 = fan.decoded
        first = [d.status().inference for d in devices]
        t0 = time.monotonic()
        latency: list[list[float]] = [[] for _ in devices]
        while time.monotonic() - t0 < seconds:
            time.sleep(0.5)
            for samples, d in zip(latency, devices, strict=True):
                ms = d.status().inference.host_ms
                if ms is not None:
                    samples.append(ms)
        last = [d.status().inference for d in devices]
        elapsed = time.monotonic() - t0
        decoded_fps = (fan.decoded - decoded0) / elapsed
    finally:
        fleet.stop()
    results = sum(b.publishes - a.publishes for a, b in zip(first, last, strict=True)) / elapsed
    inferences = sum(b.inferences - a.inferences for a, b in zip(first, last, strict=True)) / elapsed
    means = [statistics.fmean(s) for s in latency if s]
    return {"devices": n, "threads": threads or "OpenVINO default", "results_per_s": round(results, 2),
            "inferences_per_s": round(inferences, 2),
            "per_device_results_per_s": round(results / n, 2),
            "latency_ms_mean": round(statistics.fmean(means), 1) if means else None,
            "latency_ms_slowest_device": round(max(means), 1) if means else None,
            "load_before": load_before, "load_after": load(), "decoded_fps": round(decoded_fps, 1)}


def retimed_demo_clip(fps: float) -> str:
    """The demo clip's frames in a file of its own that says ``fps`` frames a second."""
    import cv2

    from simulator.camera.democlip import ensure_demo_clip

    src = cv2.VideoCapture(str(ensure_demo_clip()))
    size = (int(src.get(cv2.CAP_PROP_FRAME_WIDTH)), int(src.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    path = Path(tempfile.mkdtemp(prefix="fleet-clip-")) / f"demo_{fps:g}fps.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    while True:
        ok, frame = src.read()
        if not ok:
            break
        out.write(frame)
    out.release()
    src.release()
    return str(path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--settle", type=float, default=20.0)
    p.add_argument("--source", default="demo", help="camera source (default: the bundled 1280x720 demo clip)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--compare-openvino-default", action="store_true",
                   help="also run every N > 1 with OpenVINO's default threads in every Lambda")
    p.add_argument("--clip-fps", type=float, help="play the demo clip's frames re-timed to this many fps")
    args = p.parse_args()
    if args.clip_fps:
        args.source = retimed_demo_clip(args.clip_fps)
        print(f"source: the demo clip's frames at {args.clip_fps:g} fps ({args.source})", flush=True)
    print(f"cores: {os.cpu_count()}  load average at start: {load()}", flush=True)
    plan: list[tuple[int, int | None]] = []
    for n in args.devices:
        plan.append((n, None))
        if args.compare_openvino_default and n > 1:
            plan.append((n, 0))
    runs: dict[tuple[int, int | None], list[dict]] = {key: [] for key in plan}
    for r in range(args.rounds):
        base = None
        order = plan if r % 2 == 0 or plan[0][0] != 1 else [plan[0], *reversed(plan[1:])]
        for n, threads in order:
            row = measure(n, args.seconds, args.settle, args.source, threads)
            base = base or row["results_per_s"]
            row["ratio_to_one"] = round(row["results_per_s"] / base, 3) if base else None
            runs[(n, threads)].append(row)
            print(f"round {r + 1}: {n:>2} device(s), threads per Lambda: {row['threads']}: "
                  f"{row['results_per_s']:6.1f} results/s in all "
                  f"({row['per_device_results_per_s']:5.1f} each), {row['inferences_per_s']:6.1f} inferences/s, "
                  f"latency {row['latency_ms_mean']} ms mean / {row['latency_ms_slowest_device']} ms slowest device, "
                  f"total / one device's: {row['ratio_to_one']}   [load {row['load_before']} → {row['load_after']}]",
                  flush=True)
    rows = [{k: (round(statistics.median(x[k] for x in rs), 3) if isinstance(rs[0][k], int | float)
                 and k != "devices" else rs[0][k]) for k in rs[0]} | {"rounds": len(rs)} for rs in runs.values()]
    if args.rounds > 1:
        for row in rows:
            print(f"median: {row['devices']:>2} device(s), threads per Lambda: {row['threads']}: "
                  f"{row['results_per_s']:6.1f} results/s in all, latency "
                  f"{row['latency_ms_mean']} ms mean, total / one device's: {row['ratio_to_one']}")
    if args.json:
        print(json.dumps(rows, indent=2))
    four = next((r for r in rows if r["devices"] == 4 and r["threads"] != "OpenVINO default"), None)
    if four is not None and rows[0]["devices"] == 1:
        verdict = "met" if (four["ratio_to_one"] or 0) >= 0.9 else "NOT met"
        print(f"goal (total throughput with 4 devices >= 0.9 x one device's): {verdict} ({four['ratio_to_one']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
