"""Convolution, Deconvolution, Pooling and UpSampling, with MXNet's defaults and output-size rules (NCHW layouts)."""

from __future__ import annotations

import math

import numpy as np
import openvino.opset13 as ops

from simulator.inference.mxnet.convert import Converter, NodeContext, axes_const, const


def _spatial(ctx: NodeContext, key: str, n: int, default: int) -> list[int]:
    values = ctx.attrs.ints(key, ())
    if not values:
        return [default] * n
    if len(values) != n:
        raise ctx.fail(f"attribute '{key}' = {values} has {len(values)} values, the kernel has {n}")
    return list(values)


def _check_layout(ctx: NodeContext) -> None:
    layout = ctx.attrs.opt_text("layout")
    if layout is not None and not layout.startswith("NC"):
        raise ctx.fail(f"layout {layout!r} is not supported (only channels-first: NCW, NCHW, NCDHW)")


def _add_bias(ctx: NodeContext, out, index: int, channels: int, rank: int):
    bias = ctx.weight(index, (channels,), "bias")
    return ops.add(out, ops.reshape(bias, axes_const([1, channels] + [1] * (rank - 2)), special_zero=False))


def convolution(ctx: NodeContext):
    a = ctx.attrs
    _check_layout(ctx)
    kernel = list(a.ints("kernel"))
    n = len(kernel)
    shape = ctx.shape(0)
    if len(shape) != n + 2:
        raise ctx.fail(f"a {n}-D kernel needs a {n + 2}-D input, got shape {shape}")
    filters, groups = a.integer("num_filter"), a.integer("num_group", 1)
    channels = shape[1]
    if channels % groups or filters % groups:
        raise ctx.fail(f"num_group={groups} does not divide {channels} input channels and {filters} filters")
    weight = ctx.weight(1, (filters, channels // groups, *kernel), "weight")
    strides, dilations = _spatial(ctx, "stride", n, 1), _spatial(ctx, "dilate", n, 1)
    pads = _spatial(ctx, "pad", n, 0)
    if groups == 1:
        out = ops.convolution(ctx.input(0), weight, strides, pads, pads, dilations)
    else:
        grouped = ops.reshape(weight, axes_const([groups, filters // groups, channels // groups, *kernel]), False)
        out = ops.group_convolution(ctx.input(0), grouped, strides, pads, pads, dilations)
    if not a.flag("no_bias", False):
        out = _add_bias(ctx, out, 2, filters, n + 2)
    return out


def deconvolution(ctx: NodeContext):
    a = ctx.attrs
    _check_layout(ctx)
    kernel = list(a.ints("kernel"))
    n = len(kernel)
    shape = ctx.shape(0)
    if len(shape) != n + 2:
        raise ctx.fail(f"a {n}-D kernel needs a {n + 2}-D input, got shape {shape}")
    filters, groups = a.integer("num_filter"), a.integer("num_group", 1)
    channels = shape[1]
    if channels % groups or filters % groups:
        raise ctx.fail(f"num_group={groups} does not divide {channels} input channels and {filters} filters")
    weight = ctx.weight(1, (channels, filters // groups, *kernel), "weight")
    strides, dilations = _spatial(ctx, "stride", n, 1), _spatial(ctx, "dilate", n, 1)
    pads, adj = _spatial(ctx, "pad", n, 0), _spatial(ctx, "adj", n, 0)
    target = a.ints("target_shape", ())
    if target and any(target):
        if len(target) != n:
            raise ctx.fail(f"attribute 'target_shape' = {target} has {len(target)} values, the kernel has {n}")
        for i in range(n):  # MXNet's InferPad: the padding that yields exactly target_shape
            total = strides[i] * (shape[2 + i] - 1) + dilations[i] * (kernel[i] - 1) + 1
            if total < target[i]:
                raise ctx.fail(f"target_shape {target} is larger than the deconvolution can produce")
            excess = total - target[i]
            adj[i], pads[i] = excess % 2, (excess + 1) // 2
    if groups == 1:
        out = ops.convolution_backprop_data(ctx.input(0), weight, strides, pads_begin=pads, pads_end=pads,
                                            dilations=dilations, output_padding=adj)
    else:
        grouped = ops.reshape(weight, axes_const([groups, channels // groups, filters // groups, *kernel]), False)
        out = ops.group_convolution_backprop_data(ctx.input(0), grouped, strides, pads_begin=pads, pads_end=pads,
                                                  dilations=dilations, output_padding=adj)
    if not a.flag("no_bias", True):
        out = _add_bias(ctx, out, 2, filters, n + 2)
    return out


def pool_divisor(in_sizes, kernel, strides, pads, out_sizes, include_pad: bool) -> np.ndarray:
    """MXNet's average-pooling divisor for every output position (as its CPU kernel computes it)."""
    per_axis = []
    for size, k, s, p, count in zip(in_sizes, kernel, strides, pads, out_sizes, strict=True):
        start = np.arange(count) * s - p
        end = np.minimum(start + k, size + p)
        if include_pad:
            per_axis.append(end - start)
        else:
            per_axis.append(np.minimum(end, size) - np.maximum(start, 0))
    divisor = per_axis[0].astype(np.float32)
    for extent in per_axis[1:]:
        divisor = np.multiply.outer(divisor, extent.astype(np.float32))
    return divisor[None, None]


def pooling(ctx: NodeContext):
    a = ctx.attrs
    _check_layout(ctx)
    pool_type = a.choice("pool_type", ("max", "avg", "sum"), "max")
    shape = ctx.shape(0)
    rank = len(shape)
    data = ctx.input(0)
    if a.flag("global_pool", False):
        reduce = {"max": ops.reduce_max, "avg": ops.reduce_mean, "sum": ops.reduce_sum}[pool_type]
        return reduce(data, axes_const(range(2, rank)), keep_dims=True)
    kernel = list(a.ints("kernel"))
    n = len(kernel)
    if rank != n + 2:
        raise ctx.fail(f"a {n}-D kernel needs a {n + 2}-D input, got shape {shape}")
    strides, pads = _spatial(ctx, "stride", n, 1), _spatial(ctx, "pad", n, 0)
    convention = a.choice("pooling_convention", ("valid", "full"), "valid")
    include_pad = a.flag("count_include_pad", True)
    sizes = shape[2:]
    if any(sizes[i] + 2 * pads[i] < kernel[i] for i in range(n)):
        raise ctx.fail(f"kernel {kernel} is larger than the padded input {list(sizes)}")
    rnd = math.ceil if convention == "full" else math.floor
    out_sizes = [1 + int(rnd((sizes[i] + 2 * pads[i] - kernel[i]) / strides[i])) for i in range(n)]
    rounding = "ceil" if convention == "full" else "floor"
    if pool_type == "max":
        return ops.max_pool(data, strides, [1] * n, pads, pads, kernel, rounding_type=rounding).output(0)
    if convention == "valid" and pool_type == "avg":
        return ops.avg_pool(data, strides, pads, pads, kernel, exclude_pad=not include_pad)
    # sum, or avg with the 'full' convention: zero-pad explicitly, sum whole windows, divide as MXNet does
    ends = [max(0, (out_sizes[i] - 1) * strides[i] + kernel[i] - sizes[i] - pads[i]) for i in range(n)]
    padded = ops.pad(data, axes_const([0, 0, *pads]), axes_const([0, 0, *ends]), "constant", const(0.0))
    window = ops.multiply(ops.avg_pool(padded, strides, [0] * n, [0] * n, kernel, exclude_pad=False),
                          const(float(np.prod(kernel))))
    if pool_type == "sum":
        return window
    return ops.divide(window, const(pool_divisor(sizes, kernel, strides, pads, out_sizes, include_pad)))


def upsampling(ctx: NodeContext):
    a = ctx.attrs
    if a.choice("sample_type", ("nearest", "bilinear")) != "nearest":
        raise ctx.fail("sample_type 'bilinear' is not supported (its weights are a learned deconvolution)")
    if a.integer("num_args", 1) != 1:
        raise ctx.fail("UpSampling of several inputs is not supported")
    scale = a.integer("scale")
    shape = ctx.shape(0)
    sizes = [d * scale for d in shape[2:]]
    return ops.interpolate(ctx.input(0), axes_const(sizes), "nearest", "sizes", axes=axes_const(range(2, len(shape))),
                           coordinate_transformation_mode="asymmetric", nearest_mode="floor")


CONVERTERS: dict[str, Converter] = {
    "Convolution": convolution,
    "Convolution_v1": convolution,
    "Deconvolution": deconvolution,
    "Pooling": pooling,
    "Pooling_v1": pooling,
    "UpSampling": upsampling,
}
