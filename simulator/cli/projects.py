"""``python main.py projects import SOURCE [--name NAME] [--task classification|ssd] [--labels FILE] ...``:
a SageMaker training output (``model.tar.gz`` or its folder) becomes a project (see simulator/project_import)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import SimulatorError


def add_parser(subparsers) -> None:
    """Add the ``projects`` subcommand to an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        "projects", help="import a SageMaker-trained MXNet model as a project",
        description="Projects made from your own models. 'projects import' takes the model.tar.gz of a SageMaker "
                    "image-classification or object-detection training job (NAME-symbol.json + NAME-NNNN.params, "
                    "with model-shapes.json / hyperparams.json), or the folder it unpacks to; no MXNet needed.")
    actions = parser.add_subparsers(dest="projects_cmd", metavar="{import}")
    imp = actions.add_parser("import", help="convert a training output and generate its Lambda")
    imp.add_argument("source", type=Path, help="model.tar.gz or a folder holding NAME-symbol.json + NAME-NNNN.params")
    imp.add_argument("--name", help="project name (default: the checkpoint's name)")
    imp.add_argument("--task", choices=["classification", "ssd"],
                     help="default: ssd if the model has a MultiBoxDetection head, else classification")
    imp.add_argument("--labels", type=Path, metavar="FILE",
                     help="class names, one per line in class-index order (or a JSON list); default class_<i>")
    imp.add_argument("--epoch", type=int, help="which NAME-NNNN.params (default: the newest)")
    imp.add_argument("--input-size", type=int, metavar="N",
                     help="square input size (default: model-shapes.json / hyperparams image_shape, else 224 "
                          "for classification, 300 for SSD)")
    imp.add_argument("--precision", default="FP16", choices=["FP16", "FP32"], help="IR weights (default FP16)")
    imp.add_argument("--artifacts", type=Path, metavar="DIR",
                     help="where the IR goes (default: the per-user artifacts folder, /opt/awscam/artifacts to "
                          "Lambdas)")
    imp.add_argument("--projects-dir", type=Path, metavar="DIR", help="where the project folder goes "
                     "(default: the per-user projects folder)")
    imp.add_argument("--force", action="store_true", help="replace the files of an existing project of that name")
    parser.set_defaults(projects_parser=parser)


def _error(text: str) -> int:
    print(f"error: {text}", file=sys.stderr)
    return 2  # every error of main.py exits with 2


def _import(args: argparse.Namespace) -> int:
    from ..project_import import import_project

    project = import_project(args.source, name=args.name, task=args.task, labels=args.labels,
                             artifacts=args.artifacts, projects_dir=args.projects_dir, epoch=args.epoch,
                             size=args.input_size, precision=args.precision, force=bool(args.force))
    height, width = project.input_hw
    print(f"imported {project.name!r}: {project.task}, {len(project.labels)} classes, input {width}x{height}")
    print(f"  project: {project.folder}")
    print(f"  model:   {project.model_xml}")
    extra = "" if args.artifacts is None else f" --artifacts {args.artifacts}"
    print(f"run it:    python main.py --project {project.folder}{extra}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``projects ...``; returns the exit code (errors are printed as one line on stderr)."""
    try:
        if getattr(args, "projects_cmd", None) == "import":
            return _import(args)
    except SimulatorError as exc:
        return _error(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
    except KeyboardInterrupt:
        return _error("interrupted")
    parser = getattr(args, "projects_parser", None)
    if parser is not None:
        parser.print_usage(sys.stderr)
    return _error("choose: projects import SOURCE [--name NAME] [--task classification|ssd] [--labels FILE]")
