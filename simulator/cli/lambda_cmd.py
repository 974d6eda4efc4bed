"""``python main.py lambda diff FILE``: how a Python 2 Lambda file is modernised when the simulator loads it.

Prints the unified diff (original → modernised), every decision worth checking (integer division, StringIO
carrying bytes) with its line, notes on what was left as it was, and the one-line summary. The file is never
changed. Errors (a missing file, a file neither Python 3 nor convertible) raise ``LambdaError``: one
``error:`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.errors import LambdaError
from simulator.runtime.py2 import convert_file


def add_parser(subparsers) -> None:
    """Add the ``lambda`` subcommand to an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        "lambda", help="inspect a Lambda file",
        description="Python 2 Lambdas run unmodified: the simulator modernises a copy of each Python 2 file when "
                    "it loads the Lambda. 'lambda diff FILE' shows what it changes.")
    actions = parser.add_subparsers(dest="lambda_cmd", metavar="{diff}")
    differ = actions.add_parser("diff", help="show how a Python 2 Lambda file is modernised (the file is not changed)")
    differ.add_argument("file", type=Path, metavar="FILE", help="a Lambda file (or a module beside it)")
    parser.set_defaults(lambda_parser=parser)


def _diff(path: Path) -> int:
    if not path.is_file():
        raise LambdaError(f"Lambda file not found: {path}")
    conversion = convert_file(path)
    if not conversion.changed:
        print(f"{path} is already Python 3: nothing to modernise")
        return 0
    sys.stdout.write(conversion.diff(str(path)))
    for change in conversion.changes:
        if change.detail:
            print(f"{path}:{change.line}: {change.kind}: {change.detail}")
    for note in conversion.notes:
        print(f"{path}: note: {note}")
    print(conversion.summary())
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``lambda ...``; returns the exit code (errors are raised as LambdaError)."""
    if getattr(args, "lambda_cmd", None) == "diff":
        return _diff(Path(args.file))
    parser = getattr(args, "lambda_parser", None)
    if parser is not None:
        parser.print_usage(sys.stderr)
    raise LambdaError("choose: lambda diff FILE")
