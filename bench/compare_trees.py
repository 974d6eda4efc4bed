"""A change's effect on the spine: two versions of the simulator and the plain loop, alternately, in one run.

    python bench/compare_trees.py --before HEAD~1 [--after WORKTREE] [--samples hotdog,object_detection]
                                  [--rounds 4] [--seconds 8] [--load idle|busy]

Method. ``--before`` (a git revision, extracted with ``git archive`` into a temporary folder) and ``--after``
(default: this working tree) each run the unmodified sample Lambda in a SimulatedDevice (host profile) on the
same 4 MP clip as bench/spine_fps.py, and bench/spine_fps.py's plain OpenCV + OpenVINO loop runs beside them;
every condition runs in a fresh process of its own, and the order of the three rotates from round to round.
Per condition it prints inferences/s, new frames/s and the CPU time of all its processes per inference, and per
round each version's ratio to the plain loop of the same round (rate and CPU). The machine's speed drifts between
runs; ratios within one round do not share that drift. With ``--load busy`` one process spins on a core
throughout. os.getloadavg() is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def measure(tree: Path, kind: str, sample: str, clip: Path, seconds: float) -> dict[str, float]:
    """One condition in a process of its own (this script, ``--one``), from ``tree``."""
    out = subprocess.run([sys.executable, str(HERE / "compare_trees.py"), "--one", str(tree), kind, sample,
                          str(clip), str(seconds)], capture_output=True, text=True, timeout=600)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} from {tree} failed:\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def one(tree: Path, kind: str, sample: str, clip: Path, seconds: float) -> None:
    """Run one condition from ``tree`` and print its figures as JSON (the child's side of ``measure``)."""
    sys.path[:0] = [str(tree), str(tree / "bench")]
    os.chdir(tree)
    import psutil
    import spine_fps  # the tree's own version of the plain loop and the device helpers

    me = psutil.Process()

    def cpu() -> float:
        total = 0.0
        for p in [me, *me.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    if kind == "plain":
        stages, source = spine_fps.PLAIN[sample](), spine_fps.PlainClip(clip)
        stages.step(source.read())
        frames, start, c0 = 0, time.perf_counter(), cpu()
        while time.perf_counter() - start < seconds:
            stages.step(source.read())
            frames += 1
        elapsed = time.perf_counter() - start
        source.close()
        print(json.dumps({"rate": frames / elapsed, "new": frames / elapsed, "cpu_ms": (cpu() - c0) / frames * 1e3}))
        return
    device = spine_fps.start_device(sample, clip)
    try:
        time.sleep(1.0)
        (n0, f0), t0, c0 = spine_fps.counters(device)[:2], time.perf_counter(), cpu()  # (older trees: 2 counters)
        time.sleep(seconds + 0.3)  # the Lambda's counters are flushed every 0.25 s
        (n1, f1), t1, c1 = spine_fps.counters(device)[:2], time.perf_counter() - 0.3, cpu()
    finally:
        device.stop()
    print(json.dumps({"rate": (n1 - n0) / (t1 - t0), "new": (f1 - f0) / (t1 - t0),
                      "cpu_ms": (c1 - c0) / max(1, n1 - n0) * 1e3}))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        tree, kind, sample, clip, seconds = sys.argv[2:7]
        one(Path(tree), kind, sample, Path(clip), float(seconds))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="a git revision")
    ap.add_argument("--after", type=Path, default=ROOT, help="a tree (default: this working tree)")
    ap.add_argument("--samples", default="hotdog,object_detection")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--load", choices=("idle", "busy"), default="idle")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import spine_fps

    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        clip = spine_fps.make_clip(Path(tmp) / "clip4mp.mp4")
        trees = {"plain": (args.after, "plain"), "before": (before, "sim"), "after": (args.after, "sim")}
        busy = spine_fps.BusyCore().__enter__() if args.load == "busy" else None
        print(f"{args.before} vs {args.after}; {args.load}; {spine_fps.loadavg()}", flush=True)
        try:
            for sample in [s for s in args.samples.replace(",", " ").split() if s]:
                ratios: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
                for r in range(args.rounds):
                    names = list(trees)
                    names = names[r % 3:] + names[:r % 3]
                    got = {n: measure(trees[n][0], trees[n][1], sample, clip, args.seconds) for n in names}
                    plain = got["plain"]
                    cells = []
                    for n in ("plain", "before", "after"):
                        g = got[n]
                        cell = f"{n} {g['rate']:.2f}/s new {g['new']:.1f} cpu {g['cpu_ms']:.0f} ms"
                        if n != "plain":
                            ratios[n].append((g["rate"] / plain["rate"], g["cpu_ms"] / plain["cpu_ms"]))
                            cell += f" (x{ratios[n][-1][0]:.3f}, cpu x{ratios[n][-1][1]:.3f})"
                        cells.append(cell)
                    print(f"{sample} round {r + 1} (first: {names[0]}): " + "; ".join(cells), flush=True)
                print(f"{sample} median ratio to the plain loop: " + "; ".join(
                    f"{n} rate x{statistics.median(a for a, _ in v):.3f}, cpu x{statistics.median(c for _, c in v):.3f}"
                    for n, v in ratios.items()), flush=True)
        finally:
            if busy is not None:
                busy.__exit__()
        print(spine_fps.loadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
