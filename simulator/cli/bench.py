"""``python main.py bench [--model NAME|PATH ...] [--profiles NAME ...] [--json] [--iterations N]``.

Per model and profile: the latency measured on this host (OpenVINO CPU, f32 hint), the latency predicted for the
profile's device (docs/performance-model.md), its FPS, the FLOPs and parameters.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import openvino as ov

from ..errors import SimulatorError
from ..profiles import available_profiles, load_profile
from ..profiles.costs import graph_costs
from ..profiles.measure import measure_host_ms, read_graph
from ..profiles.perf import PRECISIONS, predict_costs
from ..profiles.schema import Profile
from .args import ListArg

MODEL_SUFFIXES = (".xml", ".onnx", ".tflite", ".pb", ".pdmodel")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="measured host latency vs predicted latency per hardware profile",
        description="For each model and hardware profile: latency measured here (OpenVINO CPU, f32) and predicted "
                    "on the profile's CPU/GPU, with FPS, FLOPs and parameters. Predictions are calibrated against "
                    "published figures only: see docs/performance-model.md.")
    p.add_argument("--model", "--models", dest="models", action=ListArg, metavar="NAME|PATH",
                   help="bundled model names or model files (IR .xml, .onnx, .tflite, .pb), separated by commas "
                        "or spaces; default: all bundled")
    p.add_argument("--profiles", "--profile", dest="profiles", action=ListArg, metavar="NAME|FILE.yaml",
                   help=f"hardware profiles, separated by commas or spaces (default: all of "
                        f"{', '.join(available_profiles())})")
    p.add_argument("--precision", choices=[p.lower() for p in PRECISIONS] + list(PRECISIONS),
                   help="predict at this precision (default: what each device would use)")
    p.add_argument("--all-precisions", action="store_true", help="a row for every precision each device supports")
    p.add_argument("--iterations", type=int, default=20, metavar="N", help="timed host inferences (default 20)")
    p.add_argument("--json", action="store_true", help="print a JSON list of objects instead of tables")


def _load(spec: str):
    """(display name, openvino.Model) for a bundled model name or a model file path."""
    path = Path(spec)
    if path.suffix.lower() in MODEL_SUFFIXES or path.exists():
        if not path.is_file():
            raise SimulatorError(f"model file not found: {path}")
        return path.name, read_graph(path)
    from ..inference import store  # lazily: the store pulls in the registry and the network client

    return spec, read_graph(store.ensure_model(spec, progress=sys.stderr.isatty()))


def _default_models() -> list[str]:
    from ..inference import store

    return [e.name for e in store.list_models()]


def rows_for(name: str, graph: ov.Model, profiles: Iterable[Profile], iterations: int, precision: str | None = None,
             all_precisions: bool = False) -> list[dict]:
    """The bench rows of one model: one per (profile, device, precision)."""
    costs = graph_costs(graph)
    host_ms = measure_host_ms(graph, iterations=iterations)
    rows = []
    for profile in profiles:
        for device in (profile.devices() or ["CPU"]):
            precisions: list[str | None] = [precision]
            if all_precisions and profile.predicts:
                precisions = list(profile.described_device(device).supported_precisions())
            for prec in precisions:
                p = predict_costs(costs, profile, device, prec, measured_ms=host_ms)
                fps = p.fps
                if p.ms is None or fps is None:  # measured_ms is given: even a measured profile's row has it
                    raise RuntimeError(f"no latency for {name} on profile '{profile.name}' ({device})")
                rows.append({"model": name, "profile": profile.name, "device": p.device, "precision": p.precision,
                             "predicted_ms": round(p.ms, 3), "predicted_fps": round(fps, 2),
                             "host_ms": round(host_ms, 3), "gflops": round(costs.flops / 1e9, 4),
                             "params": costs.params, "measured": p.measured, "note": p.note})
    return rows


def _print_table(rows: list[dict]) -> None:
    first = rows[0]
    print(f"{first['model']}: {first['gflops']:.3f} GFLOPs, {first['params'] / 1e6:.2f} M parameters, "
          f"host {first['host_ms']:.1f} ms")
    print(f"  {'profile':<16} {'device':<6} {'precision':<9} {'host ms':>9} {'predicted ms':>13} {'FPS':>8}")
    for r in rows:
        extra = "  (measured)" if r["measured"] else (f"  {r['note']}" if r["note"] else "")
        print(f"  {r['profile']:<16} {r['device']:<6} {r['precision']:<9} {r['host_ms']:>9.1f} "
              f"{r['predicted_ms']:>13.1f} {r['predicted_fps']:>8.1f}{extra}")
    print()


def run(args: argparse.Namespace) -> int:
    if args.iterations < 1:
        print("error: --iterations must be at least 1", file=sys.stderr)
        return 2
    try:
        profiles = [load_profile(p) for p in (args.profiles or available_profiles())]
    except SimulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    precision = args.precision.upper() if args.precision else None
    failures = 0
    everything: list[dict] = []
    for spec in args.models or _default_models():
        try:
            name, graph = _load(spec)
            rows = rows_for(name, graph, profiles, args.iterations, precision, args.all_precisions)
        except (SimulatorError, RuntimeError, OSError) as exc:
            print(f"error: {spec}: {exc}", file=sys.stderr)
            failures += 1
            continue
        everything.extend(rows)
        if not args.json:
            _print_table(rows)
    if args.json:
        print(json.dumps(everything, indent=2))
    return 2 if failures else 0
