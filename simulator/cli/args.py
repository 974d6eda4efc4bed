"""Argument helpers shared by the command-line tools."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any


class ListArg(argparse.Action):
    """A repeatable list option that takes commas and spaces alike: ``--profiles deeplens,raspberry-pi-4``,
    ``--profiles deeplens raspberry-pi-4`` and ``--profiles deeplens --profiles raspberry-pi-4`` are the same."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("nargs", "+")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        items = list(getattr(namespace, self.dest, None) or [])
        for value in [values] if isinstance(values, str) else (values or []):
            items.extend(part.strip() for part in str(value).split(",") if part.strip())
        setattr(namespace, self.dest, items)


def seconds(text: str) -> float:
    """An argparse ``type``: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 or more seconds")
    return value


class UsageError(Exception):
    """The command line is wrong (printed as one ``error:`` line, exit code 2)."""


class CliExit(Exception):  # noqa: N818 - an exit request (``--help``, ``--version``), not an error
    """``--help``/``--version`` finished: leave with ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class CliParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main()`` decides what is printed and the exit code."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see: {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if message:
            import sys

            print(message, end="", file=sys.stderr)
        raise CliExit(status)
