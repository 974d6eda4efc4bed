"""Memory of a headless run of the default project, every process counted (the core and the Lambda process).

Method: start ``main.py --headless`` (the object-detection sample on the demo clip, embedded broker, host
profile), wait until it has published results for ``--settle`` seconds (by then the thread trial of
``simulator/inference/thread_trial.py``, which holds a second compiled model for 6-16 s, is over), then read RSS
and USS (memory no other process shares) of the core and of each child with psutil, three times a second apart,
and print the largest.
With ``--gui`` the same for the window (offscreen), and the difference. Goal: total RSS <= 450 MB headless
(a 2 GB Raspberry Pi 4 with room to spare); the window adds <= 150 MB.

    python bench/memory.py [--settle 30] [--gui]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def measure(extra: list[str], env: dict[str, str], settle: float) -> dict[str, tuple[int, int]]:
    cmd = [sys.executable, str(ROOT / "main.py"), "--mqtt-port", "0", "--http-port", "0", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = threading.Event()  # headless prints "first result after X s"; the window shows it, its log says
        # "model ... loaded" just before the first inference

        def read() -> None:
            for line in proc.stdout or []:
                if "first result after" in line or ("awscam: model" in line and "loaded" in line):
                    first.set()

        threading.Thread(target=read, daemon=True).start()
        if not first.wait(120):
            print("  (no 'first result' line within 120 s: measured anyway)")
        time.sleep(settle)
        best: dict[str, tuple[int, int]] = {}
        for _ in range(3):
            root = psutil.Process(proc.pid)
            for p in [root, *root.children(recursive=True)]:
                try:
                    info = p.memory_full_info()
                except psutil.NoSuchProcess:
                    continue
                name = "core" if p.pid == proc.pid else "lambda" if "simulator.runtime.host" in p.cmdline() else \
                    f"child {p.pid}"
                rss, uss = best.get(name, (0, 0))
                best[name] = (max(rss, info.rss), max(uss, info.uss))
            time.sleep(1)
        return best
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def report(title: str, best: dict[str, tuple[int, int]]) -> int:
    total_rss = sum(r for r, _ in best.values())
    print(f"{title}:")
    for name, (rss, uss) in best.items():
        print(f"  {name:<10} RSS {rss / 2**20:7.1f} MB   USS {uss / 2**20:7.1f} MB")
    print(f"  {'total':<10} RSS {total_rss / 2**20:7.1f} MB   USS {sum(u for _, u in best.values()) / 2**20:7.1f} MB")
    return total_rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=30.0)
    parser.add_argument("--gui", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    headless = report("headless (main.py --headless)", measure(["--headless"], env, args.settle))
    print(f"  goal: total RSS <= 450 MB -> {'met' if headless <= 450 * 2**20 else 'NOT met'} "
          f"({headless / (450 * 2**20):.2f} of the budget)")
    if args.gui:
        window = report("window (main.py, offscreen)", measure([], {**env, "QT_QPA_PLATFORM": "offscreen"},
                                                               args.settle))
        print(f"  the window adds {(window - headless) / 2**20:.1f} MB (goal <= 150 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
