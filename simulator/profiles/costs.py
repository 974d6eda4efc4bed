"""What an OpenVINO graph costs to run: multiply-accumulates, FLOPs, weights and activation traffic per operation.

Counting rules (batch as in the graph; dynamic batch is taken as 1):
- Convolution: MACs = output elements x Cin x kernel area; GroupConvolution: output elements x (Cin/groups) x
  kernel area. Kinds: ``depthwise`` when each group has one input channel, ``pointwise`` for a dense 1x1
  kernel, ``conv3x3`` for a dense 3x3 stride-1 kernel (what Winograd algorithms speed up), ``conv`` for any
  other dense or grouped kernel. MatMul: output elements x K, kind ``gemm``.
  FLOPs = 2 x MACs.
- A matrix product with a single row - a batch-1 fully connected layer, or a convolution with one output position
  per channel (squeeze-and-excitation, classifier heads on a 1x1 map) - is a matrix-vector product, kind ``gemv``:
  each weight is read once for one multiply-add, so its time is the weight traffic, not GEMM arithmetic (its FLOPs
  count at the streaming-SIMD rate, like elementwise work).
- Gather from a constant table (an embedding lookup) reads only the rows it gathers: weight elements = output.
- Elementwise ops: 1 FLOP per output element (4 for transcendental ones); pooling: kernel area per output
  element; reductions, softmax, normalisations: per input element.
- Bias, scale and activation ops that directly follow a convolution/matmul (or another elementwise op) that has
  no other consumer are ``fused``: every runtime folds them into the producer's kernel, so they cost nothing.
- Sub-graphs computed only from constants (weight decompression, FakeQuantize of weights) are folded: free.
- Reshape, Squeeze, Unsqueeze, ShapeOf are zero-copy: free.
- Loop / If / TensorIterator bodies are not entered: each counts as one ``other`` op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import openvino as ov

FREE = {"Parameter", "Result", "Constant", "Reshape", "Squeeze", "Unsqueeze", "ShapeOf", "ReadValue", "Assign"}
CONV = {"Convolution", "ConvolutionBackpropData", "DeformableConvolution", "BinaryConvolution"}
GROUP_CONV = {"GroupConvolution", "GroupConvolutionBackpropData"}
GEMM = {"MatMul", "FullyConnected"}
POOL = {"MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool", "ReduceMean", "ReduceMax", "ReduceMin",
        "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2"}
NORM = {"Softmax", "LogSoftmax", "MVN", "NormalizeL2", "LRN", "BatchNormInference", "GroupNormalization"}
TRANSCENDENTAL = {"Exp", "Log", "Sigmoid", "Tanh", "Erf", "Gelu", "Swish", "Mish", "SoftPlus", "HSigmoid", "HSwish",
                  "Elu", "Power", "Sqrt", "SoftSign", "Sin", "Cos"}
UNARY = TRANSCENDENTAL | {"Relu", "Clamp", "PRelu", "Abs", "Negative", "Floor", "Ceiling", "Round", "Sign",
                          "Convert", "FakeQuantize", "LogicalNot"}
BINARY = {"Add", "Subtract", "Multiply", "Divide", "Maximum", "Minimum", "SquaredDifference", "Equal", "Greater",
          "GreaterEqual", "Less", "LessEqual", "NotEqual", "LogicalAnd", "LogicalOr", "FloorMod", "Mod", "Select"}
DATA = {"Transpose", "Concat", "Split", "VariadicSplit", "Gather", "GatherND", "GatherElements", "StridedSlice",
        "Slice", "Pad", "Tile", "Broadcast", "DepthToSpace", "SpaceToDepth", "ShuffleChannels", "ScatterUpdate",
        "ScatterNDUpdate", "ScatterElementsUpdate", "Interpolate", "Reverse", "ReverseSequence", "Roll"}
MAC_KINDS = ("conv3x3", "conv", "pointwise", "depthwise", "gemm")
_FUSE_INTO = {*MAC_KINDS, "gemv", "elementwise", "fused"}


@dataclass(frozen=True)
class OpCost:
    name: str
    type: str
    kind: str  # conv3x3 | conv | pointwise | depthwise | gemm | gemv | elementwise | pool | data | other | fused
    macs: int
    flops: int
    in_elems: int  # activation elements read
    out_elems: int  # activation elements written
    weight_elems: int  # constant (weight) elements read
    cin: int = 0  # convolution: input channels per group; gemm: K
    cout: int = 0  # convolution: output channels (all groups); gemm: N
    kernel: int = 0  # convolution kernel area (k x k), 0 for other ops
    stride: int = 0  # convolution stride along the first spatial axis


@dataclass(frozen=True)
class GraphCosts:
    ops: tuple[OpCost, ...]
    params: int
    weight_bytes: int  # as stored in the graph (f16 IR: 2 bytes per weight)
    weight_precision: str  # FP32 | FP16 | INT8: how the weights are stored
    quantized: bool  # FakeQuantize or 8-bit weights present
    dynamic_ops: int = 0  # ops whose shapes were unknown (counted as zero)
    macs: int = field(init=False)
    flops: int = field(init=False)
    activation_bytes: int = field(init=False)  # f32 outputs of all executed ops

    def __post_init__(self) -> None:
        object.__setattr__(self, "macs", sum(o.macs for o in self.ops))
        object.__setattr__(self, "flops", sum(o.flops for o in self.ops))
        object.__setattr__(self, "activation_bytes", 4 * sum(o.out_elems for o in self.ops if o.kind != "fused"))

    def flops_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.ops:
            out[o.kind] = out.get(o.kind, 0) + o.flops
        return out


def _elems(pshape: ov.PartialShape) -> int | None:
    return prod(d.get_length() for d in pshape) if pshape.is_static else None


def _static(graph: ov.Model) -> ov.Model:
    """A copy with dynamic batch (first) dimensions set to 1, so output shapes can be counted."""
    if not any(p.get_output_partial_shape(0).is_dynamic for p in graph.get_parameters()):
        return graph
    clone = graph.clone()
    shapes = {}
    for p in clone.get_parameters():
        ps = p.get_output_partial_shape(0)
        if ps.rank.is_static:
            dims = [d if d.is_static else ov.Dimension(1) if i == 0 else d for i, d in enumerate(ps)]
            shapes[p.output(0)] = ov.PartialShape(dims)
    try:
        clone.reshape(shapes)
    except Exception:  # noqa: BLE001 - a graph that cannot be reshaped is counted as it is
        return graph
    return clone


def graph_costs(graph: ov.Model) -> GraphCosts:
    """Count the cost of every operation of ``graph`` (an ``openvino.Model``)."""
    graph = _static(graph)
    const: dict[str, bool] = {}
    kinds: dict[str, str] = {}
    costs: list[OpCost] = []
    params = weight_bytes = dynamic = 0
    stored = {"FP32": 0, "FP16": 0, "INT8": 0}
    quantized = False
    for node in graph.get_ordered_ops():
        t, name = node.get_type_name(), node.get_name()
        sources = [inp.get_source_output().get_node() for inp in node.inputs()]
        if t == "Constant":
            const[name] = True
            et = node.get_output_element_type(0)
            n = _elems(node.get_output_partial_shape(0)) or 0
            if et.is_real() or et.bitwidth <= 8:
                params += n
                weight_bytes += n * et.bitwidth // 8
                key = "INT8" if et.bitwidth <= 8 else "FP16" if et.bitwidth == 16 else "FP32"
                stored[key] += n
            continue
        const[name] = t != "Parameter" and bool(sources) and all(const.get(s.get_name(), False) for s in sources)
        quantized |= t == "FakeQuantize"
        if const[name] or t in FREE:
            continue
        act = [o for o, s in zip(node.inputs(), sources, strict=True) if not const.get(s.get_name(), False)]
        wts = [o for o, s in zip(node.inputs(), sources, strict=True) if const.get(s.get_name(), False)]
        in_e = [_elems(i.get_partial_shape()) for i in act]
        out_e = [_elems(node.get_output_partial_shape(k)) for k in range(node.get_output_size())]
        in_known = [e for e in in_e if e is not None]
        out_known = [e for e in out_e if e is not None]
        if len(in_known) < len(in_e) or len(out_known) < len(out_e):
            dynamic += 1
            continue
        ins, outs = sum(in_known), sum(out_known)
        w_elems = sum(_elems(i.get_partial_shape()) or 0 for i in wts)
        try:
            kind, macs, flops, extra = _classify(node, t, ins, outs)
        except (RuntimeError, TypeError, IndexError):  # e.g. weights of unknown shape
            dynamic += 1
            continue
        if kind in ("conv3x3", "conv", "pointwise", "gemm") and extra["cout"] and outs == extra["cout"]:
            kind = "gemv"  # one row: every weight is streamed once for one multiply-add
        if t == "Gather" and wts and sources[0].get_name() in const and const[sources[0].get_name()]:
            w_elems = outs  # an embedding lookup reads the rows it gathers, not the table
        if kind == "elementwise" and _fusable(node, t, act, kinds):
            kind = "fused"
        kinds[name] = kind
        costs.append(OpCost(name, t, kind, macs, flops, ins, outs, w_elems, **extra))
    weight_precision = max(stored, key=stored.__getitem__) if params else "FP32"
    quantized |= stored["INT8"] > 0
    return GraphCosts(tuple(costs), params, weight_bytes, weight_precision, quantized, dynamic)


def _classify(node: ov.Node, t: str, ins: int, outs: int) -> tuple[str, int, int, dict]:
    if t in CONV or t in GROUP_CONV:
        w = [d.get_length() for d in node.input(1).get_partial_shape()]
        grouped = t in GROUP_CONV
        out_shape = node.get_output_partial_shape(0)
        cout = out_shape[1].get_length()
        if t.endswith("BackpropData"):
            # transposed: every input element meets Cout (per group) x kernel area weights
            # weights [Cin, Cout, k...] or [G, Cin/G, Cout/G, k...]
            per_in, cin_per_group = (prod(w[2:]), w[1]) if grouped else (prod(w[1:]), w[0])
            macs = _elems(node.input(0).get_partial_shape()) * per_in
            kernel = prod(w[3:]) if grouped else prod(w[2:])
        else:
            # weights [Cout, Cin, k...] or [G, Cout/G, Cin/G, k...]: Cin (per group) x kernel area per output
            per_out, cin_per_group = (prod(w[2:]), w[2]) if grouped else (prod(w[1:]), w[1])
            macs = outs * per_out
            kernel = prod(w[3:]) if grouped else prod(w[2:])
        attrs = node.get_attributes()
        strides, dilations = attrs.get("strides", [1]), attrs.get("dilations", [1])
        if grouped and cin_per_group == 1:
            kind = "depthwise"
        elif kernel == 1 and not grouped:
            kind = "pointwise"
        elif (kernel == 9 and not grouped and len(w) == 4 and set(strides) == {1} and set(dilations) == {1}
              and not t.endswith("BackpropData")):
            kind = "conv3x3"
        else:
            kind = "conv"
        extra = {"cin": cin_per_group, "cout": cout, "kernel": kernel, "stride": int(strides[0]) if strides else 1}
        return kind, macs, 2 * macs, extra
    if t in GEMM:
        a = [d.get_length() for d in node.input(0).get_partial_shape()]
        transpose_a = t == "MatMul" and node.get_attributes().get("transpose_a", False)
        k = a[-2] if transpose_a and len(a) > 1 else a[-1]
        out_shape = node.get_output_partial_shape(0)
        n = out_shape[len(out_shape) - 1].get_length() if out_shape.rank.get_length() else 1
        macs = outs * k
        return "gemm", macs, 2 * macs, {"cin": k, "cout": n}
    if t in ("MaxPool", "AvgPool"):
        kernel = node.get_attributes().get("kernel", [1])
        return "pool", 0, outs * prod(kernel), {}
    if t in POOL:
        return "pool", 0, ins, {}
    if t in NORM:
        return "elementwise", 0, 5 * ins, {}
    if t in UNARY or t in BINARY:
        return "elementwise", 0, outs * (4 if t in TRANSCENDENTAL else 1), {}
    if t in DATA:
        return "data", 0, 0, {}
    return "other", 0, outs, {}


def _fusable(node: ov.Node, t: str, act: list, kinds: dict[str, str]) -> bool:
    """An activation/bias/scale whose only non-constant input comes from a kernel it can be folded into."""
    if t not in UNARY and t not in BINARY or len(act) != 1:
        return False
    producer = act[0].get_source_output()
    if len(producer.get_target_inputs()) != 1:
        return False
    return kinds.get(producer.get_node().get_name()) in _FUSE_INTO
