"""MXNet models without MXNet: ``.params`` and ``-symbol.json`` readers and a converter to an ``openvino.Model``.

    from simulator.inference.mxnet import find_mxnet_pair, read_mxnet

    symbol, params = find_mxnet_pair(folder, "resnet18", epoch=None)
    model = read_mxnet(symbol, params, (1, 3, 224, 224))

``convert_checkpoint`` is ``mo.optimize`` for MXNet (checkpoint by name → cached IR); ``load_checkpoint`` serves
``awscam.Model`` given a ``NAME-symbol.json`` or ``NAME-NNNN.params`` path.
"""

from __future__ import annotations

from simulator.inference.mxnet.checkpoint import checkpoint_files, convert_checkpoint, default_input_hw, load_checkpoint
from simulator.inference.mxnet.errors import ModelFormatError
from simulator.inference.mxnet.files import checkpoint_epochs, find_mxnet_pair
from simulator.inference.mxnet.graph import (
    DETECTION_CLASSES_KEY,
    DETECTION_OPS,
    build_model,
    output_heads,
    read_mxnet,
    supported_ops,
)
from simulator.inference.mxnet.params import read_params
from simulator.inference.mxnet.symbol import SymbolGraph, SymbolNode, read_symbol

__all__ = [
    "DETECTION_CLASSES_KEY", "DETECTION_OPS", "ModelFormatError", "SymbolGraph", "SymbolNode", "build_model",
    "checkpoint_epochs", "checkpoint_files", "convert_checkpoint", "default_input_hw", "find_mxnet_pair",
    "load_checkpoint", "output_heads", "read_mxnet", "read_params", "read_symbol", "supported_ops",
]
