"""How well do the hardware profiles predict? Published figures vs predictions, and host vs profiles per model.

    python bench/profiles_accuracy.py [--iterations N] [--fetch]

1. Every published figure (simulator/profiles/published.yaml): published value, as ms, the shipped profile's
   prediction and the ratio predicted / published.
2. The reference networks and each bundled model (cached ones; ``--fetch`` fetches missing ones): measured host
   latency (OpenVINO CPU, f32) and predicted latency on each profile's devices.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.profiles import available_profiles, load_profile  # noqa: E402
from simulator.profiles.calibration import FIGURES, predicted_ms  # noqa: E402
from simulator.profiles.costs import graph_costs  # noqa: E402
from simulator.profiles.measure import measure_host_ms, read_graph  # noqa: E402
from simulator.profiles.perf import predict_costs  # noqa: E402
from simulator.profiles.refnets import REFERENCE_NETS  # noqa: E402


def published_table() -> None:
    print("Published figures (batch 1) vs predictions of the shipped profiles (bench/fidelity.py: held-out halves)")
    print(f"  {'hardware':<16} {'net':<22} {'runtime':<46} {'published':>12} {'as ms':>8} {'predicted':>9} "
          f"{'ratio':>6}")
    for f in FIGURES:
        pred = predicted_ms(f)
        print(f"  {f.figure.hardware:<16} {f.net:<22} {f.runtime.name[:46]:<46} {f.figure.value:>8.2f} "
              f"{f.figure.unit:<3} {f.ms:>8.1f} {pred:>9.1f} {pred / f.ms:>6.3f}")
    print("  (throughput-mode FPS taken as 1000/FPS ms; figures of other hardware are predicted on that hardware)\n")


def model_table(name: str, graph, profiles, iterations: int) -> None:
    costs = graph_costs(graph)
    host = measure_host_ms(graph, iterations=iterations)
    cells = []
    for profile in profiles:
        if not profile.predicts:
            continue
        for device in profile.devices():
            p = predict_costs(costs, profile, device)
            cells.append(f"{profile.name} {device} {p.precision} {p.ms:.1f}")
    print(f"  {name:<24} {costs.flops / 1e9:6.2f} GFLOPs {costs.params / 1e6:6.2f} M  host {host:7.1f} ms  |  "
          + "  ".join(cells))


def bundled(fetch: bool):
    try:
        from simulator.inference import store
    except ImportError as exc:
        print(f"  (model store not available: {exc})")
        return
    for entry in store.list_models():
        path = store.ensure_model(entry.name) if fetch else store.model_path(entry.name)
        if path is None:
            print(f"  {entry.name:<24} not cached (python main.py models fetch {entry.name}, or --fetch)")
            continue
        yield entry.name, read_graph(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=20, help="timed host inferences per model")
    ap.add_argument("--fetch", action="store_true", help="fetch bundled models that are not cached")
    args = ap.parse_args(argv)
    published_table()
    profiles = [load_profile(n) for n in available_profiles()]
    print("Measured host latency (median, OpenVINO CPU f32) and predicted latency per profile/device/precision")
    for name in ("mobilenet_v1", "mobilenet_v2", "resnet18", "squeezenet", "mobilenet_ssd"):
        build = REFERENCE_NETS[name]
        model_table(f"{name} (reference)", build(), profiles, args.iterations)
    for name, graph in bundled(args.fetch) or []:
        model_table(name, graph, profiles, args.iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
