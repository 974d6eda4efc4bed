"""Warm start to the first published result, and what the Lambda process imports.

Method: run ``main.py --headless`` with the default project (object detection on the demo clip, host profile,
embedded broker) ``--runs`` times after one untimed warm-up run (the model is fetched, converted and its derived
files cached; the demo clip rendered). Each run prints ``first result after X s``: the time from the device's
start to the first JSON message on its infer topic, measured inside the simulator. Prints every run and the
median, idle and then with one busy core (a competing process spinning), and the slowest imports of the Lambda
process (``python -X importtime``). Goal: median ≤ 1.5 s on an idle machine.

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST = re.compile(r"first result after ([0-9.]+) s")


def one_run() -> float | None:
    cmd = [sys.executable, str(ROOT / "main.py"), "--headless", "--duration", "12", "--mqtt-port", "0",
           "--http-port", "0", "--cloud-port", "0"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300).stdout
    match = FIRST.search(out)
    return float(match.group(1)) if match else None


def spin() -> None:
    while True:
        pass


def series(runs: int) -> list[float]:
    return [t for t in (one_run() for _ in range(runs)) if t is not None]


def slowest_imports(count: int = 8) -> list[str]:
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "from simulator.inference import lazy_ovc; "
                          "lazy_ovc.defer(); import simulator.runtime.host, simulator.device.awscam, "
                          "simulator.device.greengrasssdk"], cwd=ROOT,  # as the Lambda process starts
                         capture_output=True, text=True).stderr
    rows = []
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return [f"{us / 1000:7.1f} ms {name}" for us, name in sorted(rows, reverse=True)[:count]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    one_run()  # warm-up: model, derived files, demo clip
    idle = series(args.runs)
    hog = multiprocessing.Process(target=spin, daemon=True)
    hog.start()
    try:
        loaded = series(args.runs)
    finally:
        hog.terminate()
    for label, values in (("idle", idle), ("one busy core", loaded)):
        shown = ", ".join(f"{v:.2f}" for v in values)
        median = statistics.median(values) if values else float("nan")
        print(f"{label:<14} first result after (s): {shown}   median {median:.2f}   goal <= 1.5")
    print("slowest imports of the Lambda process (cumulative):")
    for row in slowest_imports():
        print("  " + row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
