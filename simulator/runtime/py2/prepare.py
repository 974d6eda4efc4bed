"""Making a Lambda folder importable by Python 3 without touching it.

Every module of the Lambda's folder (its ``.py`` files and packages, except the bundled packages the host's own
copies replace) that is Python 2 (it does not compile as Python 3, or it uses what only Python 2 had: see
``detect``) is modernised. The modernised copies are written to a
folder the caller owns (the per-run folder), which mirrors the Lambda folder's layout: the modernised files
are real files, every other entry is a symbolic link to the original (a copy where links are not allowed),
so data files the Lambda opens beside ``__file__`` are found. That mirror goes first on ``sys.path``.
A Lambda that needs no change is imported from its own folder, as before.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.errors import LambdaError
from simulator.runtime.py2.detect import python2_reason, read_source
from simulator.runtime.py2.guards import HOST_WINS

if TYPE_CHECKING:
    from simulator.runtime.py2.convert import Conversion
    from simulator.runtime.py2.fixbase import Change

log = logging.getLogger("lambda.py2")
SKIP_DIRS = {"__pycache__", ".git", ".hg", ".svn"}


@dataclass(frozen=True)
class Prepared:
    """What to import: ``path`` (the modernised copy, or the original file), with ``sys_path`` first on the
    path; ``summary`` is the one log line (None when nothing was modernised)."""

    path: Path
    sys_path: Path
    summary: str | None
    changes: tuple[Change, ...]  # of the Lambda file itself
    files: tuple[Conversion, ...] = ()  # every modernised file (the Lambda file first)
    skipped: tuple[str, ...] = ()  # modules beside the Lambda that are neither Python 3 nor convertible

    @property
    def modernised(self) -> bool:
        return bool(self.files)


def _sources(folder: Path):
    """The modules Python 2 could import from the Lambda's folder: its top-level ``.py`` files and, recursively,
    its packages (folders with an ``__init__.py``, which Python 2 required), less the bundled ones the host
    replaces."""
    def walk(directory: Path, top: bool):
        for entry in sorted(directory.iterdir()):
            name = entry.name
            if top and (entry.stem if entry.is_file() else name) in HOST_WINS:
                continue
            if entry.is_file() and name.endswith(".py"):
                yield entry
            elif entry.is_dir() and name not in SKIP_DIRS and (entry / "__init__.py").is_file():
                yield from walk(entry, False)

    yield from walk(folder, True)


def _link(source: Path, target: Path) -> None:
    try:
        os.symlink(source, target, target_is_directory=source.is_dir())
    except OSError:
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)


def _mirror(source: Path, target: Path, converted: dict[Path, Conversion]) -> None:
    needed = {Path(".")} | {parent for rel in converted for parent in rel.parents}

    def build(rel: Path) -> None:
        (target / rel).mkdir(parents=True, exist_ok=True)
        for entry in sorted((source / rel).iterdir()):
            sub = rel / entry.name
            if entry.name == "__pycache__":
                continue
            if sub in converted:
                (target / sub).write_text(converted[sub].source, encoding=converted[sub].encoding)
            elif entry.is_dir() and sub in needed:
                build(sub)
            else:
                _link(entry, target / sub)

    build(Path("."))


def _check_out_dir(lambda_dir: Path, out_dir: Path) -> None:
    if out_dir == lambda_dir or lambda_dir in out_dir.parents or out_dir in lambda_dir.parents:
        raise ValueError(f"the folder for modernised copies ({out_dir}) must be outside the Lambda's ({lambda_dir})")


def prepare_lambda(lambda_file: Path, out_dir: Path, logger: logging.Logger | None = None) -> Prepared:
    """Modernise the Lambda's Python 2 files into a mirror of its folder at ``out_dir`` (emptied first).

    Raises LambdaError (file, line and the line's text) when the Lambda file itself is neither Python 3 nor
    convertible; a module beside it that is neither is logged and left as it is."""
    logger = logger or log
    lambda_file = Path(lambda_file).resolve()
    lambda_dir, out_dir = lambda_file.parent, Path(out_dir).resolve()
    _check_out_dir(lambda_dir, out_dir)
    converted: dict[Path, Conversion] = {}
    skipped: list[str] = []
    for source in [lambda_file, *(p for p in _sources(lambda_dir) if p != lambda_file)]:
        text, encoding = read_source(source)
        if python2_reason(text, str(source)) is None:
            continue
        from simulator.runtime.py2.convert import convert_source  # the converter loads for Python 2 files only

        try:
            converted[source.relative_to(lambda_dir)] = convert_source(text, source, encoding)
        except LambdaError as exc:
            if source == lambda_file:
                raise
            skipped.append(exc.message)
            logger.warning("not modernised: %s", exc.message)
    if not converted:
        return Prepared(lambda_file, lambda_dir, None, (), (), tuple(skipped))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    _mirror(lambda_dir, out_dir, converted)
    from simulator.runtime.py2.convert import summary_line

    all_changes = [c for conversion in converted.values() for c in conversion.changes]
    names = [str(rel) for rel in converted]
    summary = summary_line(all_changes) + (f" in {', '.join(names)}" if len(names) > 1 else "")
    logger.info("%s", summary)
    for rel, conversion in converted.items():
        for change in conversion.changes:
            if change.detail:
                logger.info("%s:%d: %s", rel, change.line, change.detail)
        for note in conversion.notes:
            logger.warning("%s: %s", rel, note)
    own = converted.get(Path(lambda_file.name))
    return Prepared(out_dir / lambda_file.name, out_dir, summary, own.changes if own else (),
                    tuple(converted.values()), tuple(skipped))
