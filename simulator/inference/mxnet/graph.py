"""An MXNet symbol + parameters → an ``openvino.Model`` built with OpenVINO's Python opset API (no MXNet needed).

Only the nodes the outputs depend on are converted. When the symbol's outputs include an SSD detection head
(``_contrib_MultiBoxDetection``), as a training symbol's do next to its loss heads, that head alone is the output
(what MXNet's SSD ``deploy.py`` keeps), given as DeepLens' model optimizer gave it: DetectionOutput rows. Its
number of classes (background excluded) is kept in the model's rt_info under ``DETECTION_CLASSES_KEY``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from simulator.inference.mxnet import multibox, ops_conv, ops_nn, ops_tensor
from simulator.inference.mxnet.convert import Converter, NodeContext, Operand, outputs_of
from simulator.inference.mxnet.errors import ModelFormatError
from simulator.inference.mxnet.params import read_params
from simulator.inference.mxnet.symbol import SymbolGraph, SymbolNode, read_symbol

CONVERTERS: dict[str, Converter] = {**ops_conv.CONVERTERS, **ops_nn.CONVERTERS, **ops_tensor.CONVERTERS,
                                    **multibox.CONVERTERS}
DETECTION_OPS = frozenset({"_contrib_MultiBoxDetection", "MultiBoxDetection"})
INPUT_NAME = "data"
DETECTION_CLASSES_KEY = ("mxnet", "detection_classes")  # rt_info: an SSD's classes (background excluded)
_CONVERSION_ERRORS = (RuntimeError, ValueError, TypeError, IndexError)


def supported_ops() -> list[str]:
    """Every MXNet operator name the converter handles (aliases included)."""
    return sorted(CONVERTERS)


def output_heads(graph: SymbolGraph) -> list[tuple[int, int]]:
    """The outputs to convert: the SSD detection head(s) if any, else all heads (each once)."""
    detection = [h for h in graph.heads if graph.nodes[h[0]].op in DETECTION_OPS]
    return list(dict.fromkeys(detection or graph.heads))


def _needed(graph: SymbolGraph, heads: list[tuple[int, int]]) -> set[int]:
    seen: set[int] = set()
    stack = [h[0] for h in heads]
    while stack:
        index = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        node = graph.nodes[index]
        used = node.inputs[:1] if node.op in ops_nn.DATA_ONLY else node.inputs
        stack.extend(src for src, _ in used)
    return seen


def _input_node(graph: SymbolGraph, needed: set[int], arrays: dict[str, np.ndarray], params: Path) -> SymbolNode:
    free = [graph.nodes[i] for i in sorted(needed) if graph.nodes[i].op == "null" and graph.nodes[i].name not in arrays]
    named = [n for n in free if n.name == INPUT_NAME]
    if named:
        return named[0]
    if len(free) == 1:
        return free[0]
    if not free:
        raise ModelFormatError(f"{graph.path}: the graph has no input: every variable is stored in {params.name}")
    raise ModelFormatError(
        f"{graph.path}: variables {', '.join(repr(n.name) for n in free)} are neither stored in {params} nor "
        f"named '{INPUT_NAME}': expected one image input",
        hint="the .params file must come from the same training run as the symbol, whose image input is 'data'")


def _check_shape(input_shape) -> tuple[int, int, int, int]:
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 4 or any(d <= 0 for d in shape):
        raise ModelFormatError(f"input shape {tuple(input_shape)} must be 4 positive sizes (N, C, H, W)")
    return shape[0], shape[1], shape[2], shape[3]


def _short(exc: Exception) -> str:
    """OpenVINO's validation message without its source locations and node dumps."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("Check '", "While validating", "Exception from"))]
    return " ".join(useful[:2]) or (lines[0] if lines else type(exc).__name__)


class _Builder:
    def __init__(self, graph: SymbolGraph, arrays: dict[str, np.ndarray], params: Path) -> None:
        self.graph, self.arrays, self.params = graph, arrays, params
        self.values: dict[tuple[int, int], Operand] = {}
        self.detection_classes: int | None = None

    def variable(self, node: SymbolNode, data: ov.Node, input_node: SymbolNode) -> Operand:
        if node.index == input_node.index:
            return Operand(node.name, output=data.output(0))
        if node.name in self.arrays:
            return Operand(node.name, array=np.ascontiguousarray(self.arrays[node.name], dtype=np.float32))
        return Operand(node.name)

    def operator(self, node: SymbolNode) -> None:
        convert = CONVERTERS.get(node.op)
        if convert is None:
            raise ModelFormatError(f"{node.where}: operator '{node.op}' is not supported by the converter",
                                   hint="export the model to ONNX (mxnet.onnx.export_model) and use the .onnx file")
        operands = [self.values.get(src) or Operand(self.graph.nodes[src[0]].name) for src in node.inputs]
        try:
            outs = outputs_of(convert(NodeContext(node, operands, self.params)))
        except ModelFormatError:
            raise
        except _CONVERSION_ERRORS as exc:
            raise ModelFormatError(f"{node.where}: cannot be converted: {_short(exc)}") from exc
        own = {o.output.get_node() for o in operands if o.output is not None}
        if outs and outs[0].get_node() not in own:
            outs[0].get_node().set_friendly_name(node.name)
        for k, out in enumerate(outs):
            self.values[(node.index, k)] = Operand(node.name, output=out)

    def result(self, head: tuple[int, int], detection_rows: str) -> ov.Output:
        node = self.graph.nodes[head[0]]
        operand = self.values.get(head)
        out = operand.value() if operand is not None else None
        if out is None:
            raise ModelFormatError(f"{node.where}: output {head[1]} is not produced by the converted graph")
        if node.op in DETECTION_OPS:
            prob = self.values.get(node.inputs[0])
            if prob is not None and prob.output is not None:
                self.detection_classes = int(prob.output.get_partial_shape().to_shape()[1]) - 1
            if detection_rows == "device":
                batch, count, _ = (int(d) for d in out.get_partial_shape().to_shape())
                out = multibox.device_rows(out, batch, count).output(0)
        return out


def build_model(graph: SymbolGraph, arrays: dict[str, np.ndarray], params: Path,
                input_shape: tuple[int, int, int, int],
                detection_rows: Literal["device", "mxnet"] = "device") -> ov.Model:
    """Convert an already-read symbol and parameter set (see :func:`read_mxnet`)."""
    shape = _check_shape(input_shape)
    heads = output_heads(graph)
    needed = _needed(graph, heads)
    input_node = _input_node(graph, needed, arrays, params)
    data = ops.parameter(list(shape), np.float32, name=input_node.name)
    data.output(0).get_tensor().set_names({input_node.name})
    builder = _Builder(graph, arrays, params)
    for index in sorted(needed):
        node = graph.nodes[index]
        if node.op == "null":
            builder.values[(index, 0)] = builder.variable(node, data, input_node)
        else:
            builder.operator(node)
    results, names = [], set()
    for head in heads:
        out = builder.result(head, detection_rows)
        node = graph.nodes[head[0]]
        name = node.name if head[1] == 0 else f"{node.name}_output{head[1]}"
        while name in names:
            name += "_"
        names.add(name)
        out.get_tensor().set_names({name})
        results.append(ops.result(out, name=name))
    model = ov.Model(results, [data], graph.path.name.removesuffix("-symbol.json"))
    if builder.detection_classes is not None:
        model.set_rt_info(str(builder.detection_classes), list(DETECTION_CLASSES_KEY))
    return model


def read_mxnet(symbol: Path, params: Path, input_shape: tuple[int, int, int, int], *,
               detection_rows: Literal["device", "mxnet"] = "device") -> ov.Model:
    """An MXNet model (``NAME-symbol.json`` + ``NAME-NNNN.params``) as an OpenVINO model.

    ``input_shape`` is the ``data`` input's NCHW shape (float32). ``detection_rows``: an SSD head's output as
    DeepLens gave it (``"device"``: ``[1, 1, N, 7]`` DetectionOutput rows, class ids + 1) or as MXNet does
    (``"mxnet"``: ``[batch, anchors, 6]``). Raises ModelNotFoundError for a missing file and ModelFormatError
    (a ConfigError) naming the file, byte offset, node, operator or parameter for anything else.
    """
    graph = read_symbol(Path(symbol))
    arrays = read_params(Path(params))
    return build_model(graph, arrays, Path(params), input_shape, detection_rows)
