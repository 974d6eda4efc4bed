"""Where an MXNet checkpoint lives: ``NAME-symbol.json`` beside ``NAME-NNNN.params`` (NNNN = the epoch)."""

from __future__ import annotations

import re
from pathlib import Path

from simulator.errors import ModelNotFoundError


def checkpoint_epochs(folder: Path, name: str) -> dict[int, Path]:
    """The ``NAME-NNNN.params`` files in ``folder`` by epoch."""
    pattern = re.compile(re.escape(name) + r"-(\d+)\.params")
    found = {}
    for path in Path(folder).glob(f"{glob_escape(name)}-*.params"):
        match = pattern.fullmatch(path.name)
        if match and path.is_file():
            found[int(match.group(1))] = path
    return found


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def find_mxnet_pair(folder: Path, name: str, epoch: int | None = None) -> tuple[Path, Path] | None:
    """``(symbol, params)`` for checkpoint ``name`` in ``folder`` (the newest epoch when ``epoch`` is None).

    None when there is no ``NAME-symbol.json``; ModelNotFoundError when the symbol is there but the parameters
    (of that epoch) are not.
    """
    folder = Path(folder)
    symbol = folder / f"{name}-symbol.json"
    if not symbol.is_file():
        return None
    epochs = checkpoint_epochs(folder, name)
    if epoch is None and epochs:
        return symbol, epochs[max(epochs)]
    if epoch is not None and int(epoch) in epochs:
        return symbol, epochs[int(epoch)]
    have = ", ".join(str(e) for e in sorted(epochs)) or "none"
    wanted = f"{name}-{int(epoch):04d}.params" if epoch is not None else f"{name}-NNNN.params"
    raise ModelNotFoundError(f"{symbol.name} is in {folder} but {wanted} is not (epochs present: {have})",
                             hint="copy the .params file saved with the symbol, or pass the epoch that exists")
