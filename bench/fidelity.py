"""How well do the hardware profiles predict published latency figures nobody tuned them to?

    python bench/fidelity.py [--markdown] [--splits N [--seed-offset K] [--compare-squared]]

Splits the published figures (simulator/profiles/published.yaml) into two fixed random halves (stratified by
device), fits the profile coefficients on one half and predicts the other, then the reverse; prints every
figure with its source, its held-out prediction, the prediction of the shipped profiles (fitted to all
figures) and the ratios, and a summary per half and per device. ``--markdown`` prints the table for
docs/performance-model.md. ``--splits N`` also repeats the held-out check on N other random splits (seeds K to
K+N-1 with ``--seed-offset K``, default 0, drawn the same way): which figures share a half moves the result by
several points, and this shows how much. ``--compare-squared`` adds, split by split, the plain least-squares fit
(``loss="squared"``) beside the shipped robust fit.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.profiles.calibration import LOSS, SEED, Check, cross_validate, predicted_ms, summary  # noqa: E402


def _row_summary(label: str, checks: list[Check]) -> str:
    s = summary(checks)
    return (f"  {label:<34} n={s['n']:<3} within ±25%: {s['within_25'] * 100:5.1f}%   median |error| "
            f"{s['median_abs_pct']:5.1f}%   ratios {s['worst_ratio_low']:.2f}..{s['worst_ratio_high']:.2f}")


def shipped_checks(checks: list[Check]) -> list[Check]:
    return [Check(c.figure, predicted_ms(c.figure), "all") for c in checks]


def print_text(held: list[Check], shipped: list[Check]) -> None:
    print(f"Published figures: held-out prediction (fitted on the other half, seed {SEED}) and shipped profiles")
    print(f"  {'#':>2} {'hardware':<15} {'runtime':<21} {'net':<22} {'published':>13} {'ms':>8} "
          f"{'held-out':>8} {'ratio':>5} {'shipped':>8} {'ratio':>5}")
    for h, s in zip(held, shipped, strict=True):
        f = h.figure
        pub = f"{f.figure.value:g} {f.figure.unit}"
        print(f"  {f.index:>2} {f.figure.hardware:<15} {f.figure.runtime:<21} {f.net:<22} {pub:>13} {f.ms:8.1f} "
              f"{h.predicted_ms:8.1f} {h.ratio:5.2f} {s.predicted_ms:8.1f} {s.ratio:5.2f}")
    print("\nSummary")
    for half in ("A", "B"):
        other = "B" if half == "A" else "A"
        print(_row_summary(f"held out: half {other}, fitted on {half}", [c for c in held if c.fitted_on == half]))
    print(_row_summary("held out: both halves", held))
    print(_row_summary("shipped profiles (fitted to all)", shipped))
    print("\nPer device (held out | shipped)")
    for hw in sorted({c.figure.figure.hardware for c in held}):
        h = [c for c in held if c.figure.figure.hardware == hw]
        s = [c for c in shipped if c.figure.figure.hardware == hw]
        print(f"  {hw:<16} n={len(h):<3} within ±25%: held out {summary(h)['within_25'] * 100:5.1f}%   "
              f"shipped {summary(s)['within_25'] * 100:5.1f}%")
    print("\nSources")
    for name, runtime in sorted({(c.figure.figure.runtime, c.figure.runtime) for c in held}, key=lambda t: t[0]):
        print(f"  {name}: {runtime.name}, {runtime.precision}, {runtime.threads} thread(s), batch {runtime.batch}, "
              f"{runtime.mode}; {runtime.source}")


def print_markdown(held: list[Check], shipped: list[Check]) -> None:
    print("| # | device | runtime | model (reference net) | published | as ms | held-out | ratio | shipped | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for h, s in zip(held, shipped, strict=True):
        f = h.figure
        print(f"| {f.index} | {f.figure.hardware} | {f.figure.runtime} | {f.figure.model} (`{f.net}`) | "
              f"{f.figure.value:g} {f.figure.unit} | {f.ms:.1f} | {h.predicted_ms:.1f} | {h.ratio:.2f} | "
              f"{s.predicted_ms:.1f} | {s.ratio:.2f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markdown", action="store_true", help="print the figures table as Markdown")
    ap.add_argument("--splits", type=int, default=0, metavar="N", help="also check N other random splits")
    ap.add_argument("--seed-offset", type=int, default=0, metavar="K", help="the other splits' seeds start at K")
    ap.add_argument("--compare-squared", action="store_true",
                    help="with --splits: the plain least-squares fit beside the shipped robust one")
    args = ap.parse_args(argv)
    held = cross_validate()
    shipped = shipped_checks(held)
    (print_markdown if args.markdown else print_text)(held, shipped)
    if args.splits > 0:
        losses = (LOSS, "squared") if args.compare_squared and LOSS != "squared" else (LOSS,)
        print_splits(range(args.seed_offset, args.seed_offset + args.splits), losses)
    return 0


def print_splits(seeds: range, losses: tuple[str, ...] = (LOSS,)) -> None:
    """The held-out result over other random splits (one per seed) for each loss, and how often each figure missed."""
    n = len(seeds)
    shares: dict[str, list[float]] = {loss: [] for loss in losses}
    misses = {loss: Counter[str]() for loss in losses}
    print(f"\nOther random splits (seeds {seeds.start}..{seeds.stop - 1}): held out within ±25%, "
          + " | ".join(f"{loss} loss" for loss in losses))
    for seed in seeds:
        for loss in losses:
            checks = cross_validate(seed=seed, loss=loss)
            shares[loss].append(summary(checks)["within_25"])
            misses[loss].update(f"{c.figure.figure.hardware} {c.figure.net}" for c in checks if not c.within_25)
        print(f"  seed {seed:>3}: " + " | ".join(f"{shares[loss][-1] * 100:5.1f}%" for loss in losses), flush=True)
    for loss in losses:
        q = np.percentile(np.array(shares[loss]) * 100, [0, 25, 50, 75, 100])
        print(f"  {loss}: mean {np.mean(shares[loss]) * 100:.1f}%   min {q[0]:.1f}   quartiles {q[1]:.1f} / "
              f"{q[2]:.1f} / {q[3]:.1f}   max {q[4]:.1f}   ({sum(s >= 0.8 for s in shares[loss])} of {n} splits "
              "at 80% or more)")
        print(f"  {loss}: missed most often: "
              + ", ".join(f"{name} ({k}/{n})" for name, k in misses[loss].most_common(8)))


if __name__ == "__main__":
    sys.exit(main())
