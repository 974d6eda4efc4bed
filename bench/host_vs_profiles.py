"""This computer vs the Raspberry Pi profiles: measured host latency beside the predicted Pi 5 and Pi 4 latency.

    python bench/host_vs_profiles.py [--rounds N] [--iterations N] [--fetch]

For the reference MobileNetV2 and each cached bundled model (``--fetch`` fetches missing ones): the least host
latency over ``rounds`` x ``iterations`` synchronous inferences (OpenVINO CPU, f32; other load only adds
time, so the least estimates the unloaded latency), the share of the CPUs other processes used meanwhile, the
Pi 5 and Pi 4 predictions and the ratios side by side. "host faster than Pi 5" is a property of this host,
not a law: a slow or busy machine shows it plainly here instead of failing a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.profiles import load_profile  # noqa: E402
from simulator.profiles.costs import graph_costs  # noqa: E402
from simulator.profiles.measure import compile_for_host, measure_host_ms, read_graph  # noqa: E402
from simulator.profiles.perf import predict_costs  # noqa: E402
from simulator.profiles.refnets import mobilenet_v2  # noqa: E402


def _cpu_ticks() -> tuple[int, int] | None:
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return sum(values), values[3] + values[4]  # total, idle + iowait


def others_share(fn):
    """fn()'s result and the fraction of all CPUs that other processes used meanwhile (0 where unknown)."""
    before, mine, t0 = _cpu_ticks(), resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    result = fn()
    after, mine_after, wall = _cpu_ticks(), resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - t0
    if before is None or after is None or wall <= 0:
        return result, 0.0
    busy = ((after[0] - before[0]) - (after[1] - before[1])) / os.sysconf("SC_CLK_TCK")
    ours = (mine_after.ru_utime + mine_after.ru_stime) - (mine.ru_utime + mine.ru_stime)
    return result, max(0.0, busy - ours) / (wall * (os.cpu_count() or 1))


def models(fetch: bool):
    yield "mobilenet_v2 (reference)", mobilenet_v2()
    try:
        from simulator.inference import store
    except ImportError as exc:
        print(f"  (model store not available: {exc})")
        return
    for entry in store.list_models():
        path = store.ensure_model(entry.name) if fetch else store.model_path(entry.name)
        if path is None:
            print(f"  {entry.name:<26} not cached (python main.py models fetch {entry.name}, or --fetch)")
            continue
        yield entry.name, read_graph(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="measuring rounds, a second apart (default 5)")
    ap.add_argument("--iterations", type=int, default=15, help="timed inferences per round (default 15)")
    ap.add_argument("--fetch", action="store_true", help="fetch bundled models that are not cached")
    args = ap.parse_args(argv)
    pi5, pi4 = load_profile("raspberry-pi-5"), load_profile("raspberry-pi-4")
    print(f"  {'model':<26} {'host ms':>8} {'others':>6} {'Pi 5 ms':>8} {'Pi 4 ms':>8} {'host/Pi5':>8} "
          f"{'Pi5/Pi4':>7}  verdict")
    for name, graph in models(args.fetch):
        costs = graph_costs(graph)
        p5, p4 = predict_costs(costs, pi5).ms, predict_costs(costs, pi4).ms
        compiled = compile_for_host(graph)
        host, others = float("inf"), 0.0
        for i in range(args.rounds):
            ms, share = others_share(lambda c=compiled: measure_host_ms(c, iterations=args.iterations,
                                                                         statistic="min"))
            host, others = min(host, ms), max(others, share)
            if i + 1 < args.rounds:
                time.sleep(1.0)
        verdict = "host faster than Pi 5" if host < p5 else (
            f"host slower than Pi 5 (other processes used {others:.0%} of the CPUs)" if others > 0.2 else
            "host slower than Pi 5")
        print(f"  {name:<26} {host:8.1f} {others:6.0%} {p5:8.1f} {p4:8.1f} {host / p5:8.2f} {p5 / p4:7.2f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
