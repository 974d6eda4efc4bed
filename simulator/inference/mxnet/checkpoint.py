"""An MXNet checkpoint as the device used it: converted to IR by name (``mo.optimize``) or loaded from its file
(``awscam.Model('/opt/awscam/artifacts/NAME-symbol.json')``) with the input size its files or its name suggest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import openvino as ov

from simulator.errors import ModelNotFoundError
from simulator.inference.mxnet.files import find_mxnet_pair
from simulator.inference.mxnet.graph import DETECTION_OPS, build_model
from simulator.inference.mxnet.params import read_params
from simulator.inference.mxnet.symbol import SymbolGraph, read_symbol

CLASSIFIER_SIZE, SSD_SIZE = 224, 300
_EPOCH = re.compile(r"(.+)-(\d+)\.params")


def checkpoint_files(path: Path) -> tuple[Path, Path]:
    """``(symbol, params)`` for ``NAME-symbol.json`` (its newest epoch) or ``NAME-NNNN.params`` (its symbol)."""
    path = Path(path)
    if path.name.endswith("-symbol.json"):
        prefix, epoch = path.name.removesuffix("-symbol.json"), None
    else:
        match = _EPOCH.fullmatch(path.name)
        if match is None:
            raise ModelNotFoundError(f"{path}: not an MXNet checkpoint file (NAME-symbol.json or NAME-NNNN.params)")
        prefix, epoch = match.group(1), int(match.group(2))
    pair = find_mxnet_pair(path.parent, prefix, epoch)
    if pair is None:
        raise ModelNotFoundError(f"{path}: no {prefix}-symbol.json in {path.parent}",
                                 hint="copy the symbol file saved with the parameters into the same folder")
    return pair


def _size_from_json(folder: Path) -> tuple[int, int] | None:
    try:
        shapes = json.loads((folder / "model-shapes.json").read_text(encoding="utf-8"))
        shape = next(s["shape"] for s in shapes if s.get("name") == "data")
        return int(shape[2]), int(shape[3])
    except (OSError, ValueError, KeyError, IndexError, StopIteration, TypeError, AttributeError):
        pass
    try:
        value = json.loads((folder / "hyperparams.json").read_text(encoding="utf-8"))["image_shape"]
        numbers = [int(n) for n in re.findall(r"\d+", str(value))]
        return (numbers[-2], numbers[-1]) if len(numbers) >= 2 else (numbers[0], numbers[0])
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


def default_input_hw(graph: SymbolGraph) -> tuple[int, int]:
    """``model-shapes.json`` / ``hyperparams.json`` beside the symbol; else 512 or 300 for an SSD whose name says
    so (300 otherwise), 224 for a classifier."""
    found = _size_from_json(graph.path.parent)
    if found is not None:
        return found
    if graph.ops & DETECTION_OPS:
        size = SSD_SIZE
        for candidate in (512, 300):
            if re.search(rf"(?<!\d){candidate}(?!\d)", graph.path.name):
                size = candidate
        return size, size
    return CLASSIFIER_SIZE, CLASSIFIER_SIZE


def load_checkpoint(path: Path, input_hw: tuple[int, int] | None = None, channels: int = 3) -> ov.Model:
    """The OpenVINO model of the checkpoint ``path`` names (see :func:`checkpoint_files`)."""
    symbol, params = checkpoint_files(path)
    graph = read_symbol(symbol)
    height, width = input_hw or default_input_hw(graph)
    return build_model(graph, read_params(params), params, (1, channels, height, width))


def _ir_input(path: Path) -> tuple[int, ...] | None:
    try:
        return tuple(ov.Core().read_model(str(path)).input(0).get_partial_shape().to_shape())
    except (RuntimeError, ValueError):
        return None


def convert_checkpoint(folder: Path, name: str, width: int, height: int, *, epoch: int | None = None,
                       channels: int = 3, precision: str = "FP16") -> Path | None:
    """``mo.optimize`` for MXNet: ``NAME-symbol.json`` + ``NAME-NNNN.params`` in ``folder`` → the IR
    ``mxnet_NAME_PRECISION_FUSED.xml`` beside them (reused while newer than both and of the same input shape).

    None when ``folder`` has no ``NAME-symbol.json``; ModelNotFoundError when its parameters are missing;
    ModelFormatError when the files cannot be converted.
    """
    pair = find_mxnet_pair(Path(folder), name, epoch)
    if pair is None:
        return None
    symbol, params = pair
    precision = precision.upper()
    target = Path(folder) / f"mxnet_{name}_{precision}_FUSED.xml"
    shape = (1, int(channels), int(height), int(width))
    newest = max(symbol.stat().st_mtime, params.stat().st_mtime)
    if target.is_file() and target.stat().st_mtime >= newest and _ir_input(target) == shape:
        return target
    model = build_model(read_symbol(symbol), read_params(params), params, shape)
    ov.save_model(model, str(target), compress_to_fp16=precision == "FP16")
    return target

