"""Caffe layers as OpenVINO operations, with Caffe's defaults and output-size rules (NCHW)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from google.protobuf.message import Message

from simulator.inference.mxnet.convert import axes_const, const
from simulator.inference.mxnet.errors import ModelFormatError
from simulator.inference.mxnet.ops_conv import pool_divisor


@dataclass
class Layer:
    """One layer of the network: its parameters message, inputs (graph values) and stored blobs."""

    name: str
    type: str
    message: Message
    inputs: list[ov.Output]
    blobs: list[np.ndarray]
    where: str

    def fail(self, message: str) -> ModelFormatError:
        return ModelFormatError(f"{self.where}: layer '{self.name}' ({self.type}): {message}")

    def param(self, field: str):
        return getattr(self.message, field)

    def shape(self, i: int = 0) -> tuple[int, ...]:
        return tuple(int(d) for d in self.inputs[i].get_partial_shape().to_shape())

    def blob(self, i: int, expected: tuple[int, ...], role: str) -> np.ndarray:
        if i >= len(self.blobs):
            raise self.fail(f"its {role} (blob {i}) is missing from the .caffemodel")
        blob = self.blobs[i]
        if blob.shape != expected:
            if blob.size != math.prod(expected):  # legacy 4-D blobs (1, 1, N, K) hold the same values
                raise self.fail(f"blob {i} ({role}) has shape {blob.shape}, the layer needs {expected}")
            blob = blob.reshape(expected)
        return blob


def _hw(p, repeated: str, name: str, default: int) -> tuple[int, int]:
    """(h, w) from ``NAME_h``/``NAME_w`` if set, else from the repeated field (one value for both, or h then w)."""
    if p.HasField(f"{name}_h") or p.HasField(f"{name}_w"):
        return int(getattr(p, f"{name}_h")), int(getattr(p, f"{name}_w"))
    values = [int(v) for v in getattr(p, repeated)]
    if not values:
        return default, default
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _bias(layer: Layer, out, index: int, channels: int):
    bias = layer.blob(index, (channels,), "bias")
    return ops.add(out, const(bias.reshape(1, channels, 1, 1)))


def convolution(layer: Layer, transposed: bool = False):
    p = layer.param("convolution_param")
    n, c, _, _ = layer.shape()
    kh, kw = _hw(p, "kernel_size", "kernel", 0)
    if not kh or not kw:
        raise layer.fail("kernel size missing")
    pads, strides = _hw(p, "pad", "pad", 0), _hw(p, "stride", "stride", 1)
    dil = [int(p.dilation[0])] * 2 if len(p.dilation) == 1 else ([int(d) for d in p.dilation] or [1, 1])
    out, groups = int(p.num_output), int(p.group)
    if c % groups or out % groups:
        raise layer.fail(f"group={groups} does not divide {c} input channels and {out} outputs")
    if transposed:
        w = layer.blob(0, (c, out // groups, kh, kw), "weights")
        grouped = w.reshape(groups, c // groups, out // groups, kh, kw)
        y = ops.convolution_backprop_data(layer.inputs[0], const(w), list(strides), pads_begin=list(pads),
                                          pads_end=list(pads), dilations=dil) if groups == 1 else \
            ops.group_convolution_backprop_data(layer.inputs[0], const(grouped), list(strides), pads_begin=list(pads),
                                                pads_end=list(pads), dilations=dil)
    else:
        w = layer.blob(0, (out, c // groups, kh, kw), "weights")
        y = ops.convolution(layer.inputs[0], const(w), list(strides), list(pads), list(pads), dil) if groups == 1 \
            else ops.group_convolution(layer.inputs[0], const(w.reshape(groups, out // groups, c // groups, kh, kw)),
                                       list(strides), list(pads), list(pads), dil)
    return _bias(layer, y, 1, out) if p.bias_term else y


def pooling(layer: Layer):
    p = layer.param("pooling_param")
    x = layer.inputs[0]
    _, _, h, w = layer.shape()
    kind = {0: "max", 1: "avg"}.get(p.pool)
    if kind is None:
        raise layer.fail("STOCHASTIC pooling is not supported")
    if p.global_pooling:
        reduce = ops.reduce_max if kind == "max" else ops.reduce_mean
        return reduce(x, axes_const([2, 3]), keep_dims=True)
    kernel = list(_hw(p, "kernel_size", "kernel", 0))
    pads, strides = list(_hw(p, "pad", "pad", 0)), list(_hw(p, "stride", "stride", 1))
    rnd = math.floor if p.round_mode == 1 else math.ceil
    sizes = [h, w]
    out = [int(rnd((sizes[i] + 2 * pads[i] - kernel[i]) / strides[i])) + 1 for i in range(2)]
    for i in range(2):  # Caffe: the last window must start inside the image, not in the padding
        if pads[i] and (out[i] - 1) * strides[i] >= sizes[i] + pads[i]:
            out[i] -= 1
    ends = [max(0, (out[i] - 1) * strides[i] + kernel[i] - sizes[i] - pads[i]) for i in range(2)]
    if kind == "max":
        y = ops.max_pool(x, strides, [1, 1], pads, ends, kernel).output(0)
    else:
        padded = ops.pad(x, axes_const([0, 0, *pads]), axes_const([0, 0, *ends]), "constant", const(0.0))
        window = ops.multiply(ops.avg_pool(padded, strides, [0, 0], [0, 0], kernel, exclude_pad=False),
                              const(float(kernel[0] * kernel[1])))
        y = ops.divide(window, const(pool_divisor(sizes, kernel, strides, pads, out, include_pad=True))).output(0)
    got = [int(d) for d in y.get_partial_shape().to_shape()[2:]]
    if got != out:
        y = ops.slice(y, axes_const([0, 0]), axes_const(out), axes_const([1, 1]), axes_const([2, 3]))
    return y


def inner_product(layer: Layer):
    p = layer.param("inner_product_param")
    shape = layer.shape()
    axis = int(p.axis) % len(shape)
    features, units = math.prod(shape[axis:]), int(p.num_output)
    x = ops.reshape(layer.inputs[0], axes_const([*shape[:axis], features]), False)
    w = layer.blob(0, (features, units) if p.transpose else (units, features), "weights")
    y = ops.matmul(x, const(w), False, not p.transpose)
    return ops.add(y, const(layer.blob(1, (units,), "bias"))) if p.bias_term else y


def batch_norm(layer: Layer):
    c = layer.shape()[1]
    mean, var = layer.blob(0, (c,), "mean"), layer.blob(1, (c,), "variance")
    factor = layer.blobs[2].reshape(-1)[0] if len(layer.blobs) > 2 else 1.0
    factor = 0.0 if factor == 0 else 1.0 / factor
    eps = layer.param("batch_norm_param").eps
    scale = 1.0 / np.sqrt(var * factor + eps)
    shift = -mean * factor * scale
    return ops.add(ops.multiply(layer.inputs[0], const(scale.reshape(1, c, 1, 1))), const(shift.reshape(1, c, 1, 1)))


def _broadcast_shape(shape, axis: int, count: int) -> tuple[list[int], tuple[int, ...]]:
    covered = tuple(shape[axis:axis + count])
    return [1] * axis + list(covered) + [1] * (len(shape) - axis - count), covered


def scale(layer: Layer, bias_only: bool = False):
    p = layer.param("bias_param" if bias_only else "scale_param")
    shape = layer.shape()
    axis = int(p.axis) % len(shape)
    if len(layer.inputs) > 1:
        other = layer.shape(1)
        target, _ = _broadcast_shape(shape, axis, len(other))
        operand = ops.reshape(layer.inputs[1], axes_const(target), False)
        return ops.add(layer.inputs[0], operand) if bias_only else ops.multiply(layer.inputs[0], operand)
    count = len(shape) - axis if p.num_axes == -1 else int(p.num_axes)
    target, covered = _broadcast_shape(shape, axis, count)
    if bias_only:
        return ops.add(layer.inputs[0], const(layer.blob(0, covered, "bias").reshape(target)))
    y = ops.multiply(layer.inputs[0], const(layer.blob(0, covered, "scale").reshape(target)))
    return ops.add(y, const(layer.blob(1, covered, "bias").reshape(target))) if p.bias_term else y


def eltwise(layer: Layer):
    p = layer.param("eltwise_param")
    xs = layer.inputs
    if p.operation == 0:
        y = xs[0]
        for x in xs[1:]:
            y = ops.multiply(y, x)
        return y
    if p.operation == 2:
        y = xs[0]
        for x in xs[1:]:
            y = ops.maximum(y, x)
        return y
    coeff = list(p.coeff) or [1.0] * len(xs)
    if len(coeff) != len(xs):
        raise layer.fail(f"{len(coeff)} coefficients for {len(xs)} inputs")
    terms = [x if c == 1.0 else ops.multiply(x, const(c)) for x, c in zip(xs, coeff, strict=True)]
    y = terms[0]
    for t in terms[1:]:
        y = ops.add(y, t)
    return y


def concat(layer: Layer):
    p = layer.param("concat_param")
    axis = int(p.concat_dim) if p.HasField("concat_dim") else int(p.axis)
    return ops.concat(layer.inputs, axis % len(layer.shape()))


def flatten(layer: Layer):
    p = layer.param("flatten_param")
    shape = layer.shape()
    start, end = int(p.axis) % len(shape), int(p.end_axis) % len(shape)
    target = [*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:]]
    return ops.reshape(layer.inputs[0], axes_const(target), False)


def relu(layer: Layer):
    slope = layer.param("relu_param").negative_slope
    return ops.prelu(layer.inputs[0], const([slope])) if slope else ops.relu(layer.inputs[0])


def prelu(layer: Layer):
    c = layer.shape()[1]
    shared = layer.param("prelu_param").channel_shared
    return ops.prelu(layer.inputs[0], const(layer.blob(0, (1,) if shared else (c,), "slopes")))


def lrn(layer: Layer):
    p = layer.param("lrn_param")
    if p.norm_region != 0:
        raise layer.fail("WITHIN_CHANNEL normalisation is not supported")
    # x / (k + alpha / n * sum(x²)) ** beta, with bias 1 (OpenVINO 2026.4's CPU LRN ignores other biases)
    y = ops.lrn(layer.inputs[0], axes_const([1]), p.alpha / p.k, p.beta, 1.0, int(p.local_size))
    return ops.multiply(y, const(p.k ** -p.beta))


def softmax(layer: Layer):
    axis = int(layer.param("softmax_param").axis) if layer.message.HasField("softmax_param") else 1
    return ops.softmax(layer.inputs[0], axis % len(layer.shape()))


CONVERTERS: dict[str, Callable[[Layer], ov.Node | ov.Output]] = {
    "Convolution": convolution,
    "Deconvolution": lambda layer: convolution(layer, transposed=True),
    "Pooling": pooling,
    "InnerProduct": inner_product,
    "BatchNorm": batch_norm,
    "Scale": scale,
    "Bias": lambda layer: scale(layer, bias_only=True),
    "Eltwise": eltwise,
    "Concat": concat,
    "Flatten": flatten,
    "ReLU": relu,
    "PReLU": prelu,
    "ELU": lambda layer: ops.elu(layer.inputs[0], layer.param("elu_param").alpha),
    "Sigmoid": lambda layer: ops.sigmoid(layer.inputs[0]),
    "TanH": lambda layer: ops.tanh(layer.inputs[0]),
    "AbsVal": lambda layer: ops.abs(layer.inputs[0]),
    "BNLL": lambda layer: ops.softplus(layer.inputs[0]),
    "LRN": lrn,
    "Softmax": softmax,
    "SoftmaxWithLoss": softmax,
    "Dropout": lambda layer: layer.inputs[0],
}
