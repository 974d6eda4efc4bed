"""Shape, slicing, element-wise and reduction operators (the symbol's shapes are static: the input size is fixed)."""

from __future__ import annotations

import math
from functools import reduce

import openvino.opset13 as ops

from simulator.inference.mxnet.convert import Converter, NodeContext, axes_const, const, norm_axis
from simulator.inference.mxnet.reshape import ReshapeError, infer_reshape, legacy_target_shape

_BIG = 2**62


def _reshape_to(x, shape) -> object:
    return ops.reshape(x, axes_const(shape), special_zero=False)


def reshape(ctx: NodeContext):
    a = ctx.attrs
    dshape = ctx.shape(0)
    try:
        codes = a.ints("shape", ())
        if codes:
            target = infer_reshape(codes, dshape, a.flag("reverse", False))
        elif a.ints("target_shape", ()):
            target = legacy_target_shape(a.ints("target_shape"), dshape, a.flag("keep_highest", False))
        else:
            raise ReshapeError("neither 'shape' nor 'target_shape' is given")
    except ReshapeError as exc:
        raise ctx.fail(f"cannot reshape {dshape}: {exc}") from None
    return _reshape_to(ctx.input(0), target)


def flatten(ctx: NodeContext):
    shape = ctx.shape(0)
    return _reshape_to(ctx.input(0), [shape[0], math.prod(shape[1:])])


def concat(ctx: NodeContext):
    a = ctx.attrs
    rank = len(ctx.shape(0))
    axis = norm_axis(a.integer("dim", a.integer("axis", 1)), rank, ctx, "dim")
    return ops.concat([ctx.input(i) for i in range(ctx.count)], axis)


def transpose(ctx: NodeContext):
    rank = len(ctx.shape(0))
    axes = ctx.attrs.ints("axes", ()) or tuple(reversed(range(rank)))
    if sorted(a % rank for a in axes) != list(range(rank)):
        raise ctx.fail(f"axes {axes} is not a permutation of a {rank}-D input's axes")
    return ops.transpose(ctx.input(0), axes_const([a % rank for a in axes]))


def swap_axis(ctx: NodeContext):
    rank = len(ctx.shape(0))
    perm = list(range(rank))
    d1 = norm_axis(ctx.attrs.integer("dim1", 0), rank, ctx, "dim1")
    d2 = norm_axis(ctx.attrs.integer("dim2", 0), rank, ctx, "dim2")
    perm[d1], perm[d2] = perm[d2], perm[d1]
    return ops.transpose(ctx.input(0), axes_const(perm))


def expand_dims(ctx: NodeContext):
    rank = len(ctx.shape(0))
    return ops.unsqueeze(ctx.input(0), axes_const([norm_axis(ctx.attrs.integer("axis"), rank + 1, ctx)]))


def squeeze(ctx: NodeContext):
    shape = ctx.shape(0)
    given = ctx.attrs.opt_ints("axis")
    axes = [norm_axis(x, len(shape), ctx) for x in given] if given else [i for i, d in enumerate(shape) if d == 1]
    if any(shape[x] != 1 for x in axes):
        raise ctx.fail(f"cannot squeeze axes {axes} of shape {shape}")
    return _reshape_to(ctx.input(0), [d for i, d in enumerate(shape) if i not in axes])


def clip(ctx: NodeContext):
    return ops.clamp(ctx.input(0), ctx.attrs.number("a_min"), ctx.attrs.number("a_max"))


def slice_axis(ctx: NodeContext):
    a = ctx.attrs
    shape = ctx.shape(0)
    axis = norm_axis(a.integer("axis"), len(shape), ctx)
    size = shape[axis]
    begin, end = a.integer("begin"), a.opt_integer("end")
    begin = begin + size if begin < 0 else begin
    end = size if end is None else (end + size if end < 0 else end)
    if not 0 <= begin < end <= size:
        raise ctx.fail(f"slice [{a.text('begin')}, {a.opt_text('end')}) is empty or outside axis {axis} of "
                       f"size {size}")
    return ops.slice(ctx.input(0), axes_const([begin]), axes_const([end]), axes_const([1]), axes_const([axis]))


def slice_op(ctx: NodeContext):
    a = ctx.attrs
    begin, end = a.optional_ints("begin"), a.optional_ints("end")
    step = a.optional_ints("step", ()) or (None,) * len(begin)
    if not len(begin) == len(end) == len(step):
        raise ctx.fail(f"begin {begin}, end {end} and step {step} differ in length")
    steps = [1 if s is None else s for s in step]
    if 0 in steps:
        raise ctx.fail("a step of 0 is not allowed")
    starts = [(0 if s > 0 else _BIG) if b is None else b for b, s in zip(begin, steps, strict=True)]
    stops = [(_BIG if s > 0 else -_BIG) if e is None else e for e, s in zip(end, steps, strict=True)]
    return ops.slice(ctx.input(0), axes_const(starts), axes_const(stops), axes_const(steps),
                     axes_const(range(len(steps))))


def split(ctx: NodeContext):
    a = ctx.attrs
    shape = ctx.shape(0)
    axis = norm_axis(a.integer("axis", 1), len(shape), ctx)
    parts = a.integer("num_outputs")
    if shape[axis] % parts:
        raise ctx.fail(f"axis {axis} of size {shape[axis]} does not split into {parts} equal parts")
    outs = list(ops.split(ctx.input(0), axis, parts).outputs())
    if a.flag("squeeze_axis", False):
        outs = [ops.squeeze(o, axes_const([axis])).output(0) for o in outs]
    return outs


def pad(ctx: NodeContext):
    a = ctx.attrs
    mode = a.choice("mode", ("constant", "edge", "reflect"), "constant")
    widths = a.ints("pad_width")
    rank = len(ctx.shape(0))
    if len(widths) != 2 * rank:
        raise ctx.fail(f"pad_width {widths} must hold 2 values per axis of the {rank}-D input")
    ov_mode = {"constant": "constant", "edge": "edge", "reflect": "reflect"}[mode]
    return ops.pad(ctx.input(0), axes_const(widths[0::2]), axes_const(widths[1::2]), ov_mode,
                   const(a.number("constant_value", 0.0)) if mode == "constant" else None)


BINARY = {"add": ops.add, "sub": ops.subtract, "mul": ops.multiply, "div": ops.divide, "max": ops.maximum,
          "min": ops.minimum, "pow": ops.power}
_BINARY_NAMES = {
    "add": ("elemwise_add", "_Plus", "_plus", "_add", "broadcast_add", "broadcast_plus"),
    "sub": ("elemwise_sub", "_Minus", "_minus", "_sub", "broadcast_sub", "broadcast_minus"),
    "mul": ("elemwise_mul", "_Mul", "_mul", "broadcast_mul"),
    "div": ("elemwise_div", "_Div", "_div", "broadcast_div"),
    "max": ("_Maximum", "_maximum", "broadcast_maximum"),
    "min": ("_Minimum", "_minimum", "broadcast_minimum"),
    "pow": ("_Power", "_power", "broadcast_power"),
}
# scalar operators: name -> (binary op, scalar on the left)
_SCALAR_NAMES = {
    "_plus_scalar": ("add", False), "_PlusScalar": ("add", False),
    "_minus_scalar": ("sub", False), "_MinusScalar": ("sub", False),
    "_rminus_scalar": ("sub", True), "_RMinusScalar": ("sub", True),
    "_mul_scalar": ("mul", False), "_MulScalar": ("mul", False),
    "_div_scalar": ("div", False), "_DivScalar": ("div", False),
    "_rdiv_scalar": ("div", True), "_RDivScalar": ("div", True),
    "_power_scalar": ("pow", False), "_PowerScalar": ("pow", False),
    "_rpower_scalar": ("pow", True), "_RPowerScalar": ("pow", True),
    "_maximum_scalar": ("max", False), "_MaximumScalar": ("max", False),
    "_minimum_scalar": ("min", False), "_MinimumScalar": ("min", False),
}
UNARY = {
    "relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh, "exp": ops.exp, "log": ops.log, "sqrt": ops.sqrt,
    "abs": ops.abs, "negative": ops.negative, "floor": ops.floor, "ceil": ops.ceiling, "erf": ops.erf,
    "sin": ops.sin, "cos": ops.cos, "softsign": ops.softsign,
    "square": lambda x: ops.multiply(x, x),
    "rsqrt": lambda x: ops.divide(const(1.0), ops.sqrt(x)),
    "reciprocal": lambda x: ops.divide(const(1.0), x),
}
REDUCE = {"sum": ops.reduce_sum, "sum_axis": ops.reduce_sum, "mean": ops.reduce_mean, "max": ops.reduce_max,
          "max_axis": ops.reduce_max, "min": ops.reduce_min, "min_axis": ops.reduce_min, "prod": ops.reduce_prod}


def _binary(kind: str) -> Converter:
    return lambda ctx: BINARY[kind](ctx.input(0), ctx.input(1))


def _scalar(kind: str, left: bool) -> Converter:
    def convert(ctx: NodeContext):
        scalar = const(ctx.attrs.number("scalar"))
        return BINARY[kind](scalar, ctx.input(0)) if left else BINARY[kind](ctx.input(0), scalar)

    return convert


def _unary(op) -> Converter:
    return lambda ctx: op(ctx.input(0))


def add_n(ctx: NodeContext):
    return reduce(ops.add, [ctx.input(i) for i in range(ctx.count)])


def _reduction(op) -> Converter:
    def convert(ctx: NodeContext):
        a = ctx.attrs
        rank = len(ctx.shape(0))
        axes = a.opt_ints("axis")
        chosen = sorted({norm_axis(x, rank, ctx) for x in axes}) if axes else list(range(rank))
        if a.flag("exclude", False):
            chosen = [i for i in range(rank) if i not in chosen]
        return op(ctx.input(0), axes_const(chosen), keep_dims=a.flag("keepdims", False))

    return convert


CONVERTERS: dict[str, Converter] = {
    "Reshape": reshape, "reshape": reshape,
    "Flatten": flatten, "flatten": flatten,
    "Concat": concat, "concat": concat,
    "transpose": transpose,
    "SwapAxis": swap_axis, "swapaxes": swap_axis,
    "expand_dims": expand_dims,
    "squeeze": squeeze,
    "clip": clip,
    "slice_axis": slice_axis,
    "slice": slice_op, "crop": slice_op,
    "SliceChannel": split, "split": split,
    "Pad": pad, "pad": pad,
    "add_n": add_n, "ElementWiseSum": add_n,
    **{name: _binary(kind) for kind, names in _BINARY_NAMES.items() for name in names},
    **{name: _scalar(kind, left) for name, (kind, left) in _SCALAR_NAMES.items()},
    **{name: _unary(op) for name, op in UNARY.items()},
    **{name: _reduction(op) for name, op in REDUCE.items()},
}
