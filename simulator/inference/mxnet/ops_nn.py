"""Normalisation, fully connected, activation, softmax and loss-head operators, with MXNet's defaults."""

from __future__ import annotations

import numpy as np
import openvino.opset13 as ops

from simulator.inference.mxnet.convert import Converter, NodeContext, axes_const, const, norm_axis

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946

# Loss heads read only their data input at inference; their label input is never bound.
DATA_ONLY = frozenset({"SoftmaxOutput", "Softmax", "LinearRegressionOutput", "MAERegressionOutput",
                       "LogisticRegressionOutput", "SVMOutput"})


def batch_norm(ctx: NodeContext):
    """Inference batch norm with the moving statistics; ``fix_gamma`` (MXNet's default: True) means gamma = 1."""
    a = ctx.attrs
    shape = ctx.shape(0)
    axis = norm_axis(a.integer("axis", 1), len(shape), ctx)
    channels = shape[axis]
    eps = a.number("eps", 1e-3)
    fixed = a.flag("fix_gamma", True)
    gamma = const(np.ones(channels, np.float32)) if fixed else ctx.weight(1, (channels,), "gamma")
    beta = ctx.weight(2, (channels,), "beta")
    mean = ctx.weight(3, (channels,), "moving mean")
    var = ctx.weight(4, (channels,), "moving variance")
    target = [1] * len(shape)
    target[axis] = channels

    def per_channel(v):
        return ops.reshape(v, axes_const(target), special_zero=False)

    scale = ops.divide(gamma, ops.sqrt(ops.add(var, const(eps))))
    shift = ops.subtract(beta, ops.multiply(mean, scale))
    out = ops.add(ops.multiply(ctx.input(0), per_channel(scale)), per_channel(shift))
    if a.flag("output_mean_var", False):
        return [out.output(0), ctx.input(3), ctx.input(4)]
    return out


def instance_norm(ctx: NodeContext):
    shape = ctx.shape(0)
    channels = shape[1]
    eps = ctx.attrs.number("eps", 1e-3)
    target = axes_const([1, channels] + [1] * (len(shape) - 2))
    normed = ops.mvn(ctx.input(0), axes_const(range(2, len(shape))), True, eps, "inside_sqrt")
    gamma = ops.reshape(ctx.weight(1, (channels,), "gamma"), target, False)
    beta = ops.reshape(ctx.weight(2, (channels,), "beta"), target, False)
    return ops.add(ops.multiply(normed, gamma), beta)


def l2_normalization(ctx: NodeContext):
    a = ctx.attrs
    rank = len(ctx.shape(0))
    mode = a.choice("mode", ("instance", "channel", "spatial"), "instance")
    axes = {"instance": range(1, rank), "channel": [1], "spatial": range(2, rank)}[mode]
    return ops.normalize_l2(ctx.input(0), axes_const(axes), a.number("eps", 1e-10), "add")


def lrn(ctx: NodeContext):
    """``x / (knorm + alpha / nsize * sum(x², nsize channels)) ** beta``, written with bias 1 (x / k**beta over
    LRN with alpha / k): OpenVINO 2026.4's CPU LRN ignores any other bias."""
    a = ctx.attrs
    alpha, beta, knorm = a.number("alpha", 1e-4), a.number("beta", 0.75), a.number("knorm", 2.0)
    if knorm <= 0:
        raise ctx.fail(f"knorm={knorm} must be positive")
    out = ops.lrn(ctx.input(0), axes_const([1]), alpha / knorm, beta, 1.0, a.integer("nsize"))
    return ops.multiply(out, const(knorm ** -beta))


def fully_connected(ctx: NodeContext):
    a = ctx.attrs
    hidden = a.integer("num_hidden")
    shape = ctx.shape(0)
    data = ctx.input(0)
    if a.flag("flatten", True):
        features = int(np.prod(shape[1:]))
        data = ops.reshape(data, axes_const([shape[0], features]), special_zero=False)
    else:
        features = shape[-1]
    out = ops.matmul(data, ctx.weight(1, (hidden, features), "weight"), False, True)
    if not a.flag("no_bias", False):
        out = ops.add(out, ctx.weight(2, (hidden,), "bias"))
    return out


ACTIVATIONS = {
    "relu": ops.relu,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "softrelu": ops.softplus,
    "softsign": ops.softsign,
    "log_sigmoid": lambda x: ops.negative(ops.softplus(ops.negative(x))),
    "mish": ops.mish,
}


def activation(ctx: NodeContext):
    act = ctx.attrs.choice("act_type", tuple(ACTIVATIONS))
    return ACTIVATIONS[act](ctx.input(0))


def leaky_relu(ctx: NodeContext):
    a = ctx.attrs
    act = a.choice("act_type", ("leaky", "prelu", "elu", "selu", "gelu", "rrelu"), "leaky")
    x = ctx.input(0)
    if act == "leaky":
        return ops.prelu(x, const([a.number("slope", 0.25)]))
    if act == "rrelu":  # inference uses the mean of the random slope's range
        return ops.prelu(x, const([(a.number("lower_bound", 0.125) + a.number("upper_bound", 0.334)) / 2]))
    if act == "elu":
        return ops.elu(x, a.number("slope", 0.25))
    if act == "selu":
        return ops.selu(x, const([SELU_ALPHA]), const([SELU_LAMBDA]))
    if act == "gelu":
        return ops.gelu(x, "erf")
    shape = ctx.shape(0)
    channels = shape[1] if len(shape) > 1 else 1
    stored = ctx.array(1)
    shared = stored is not None and stored.shape == (1,)  # one slope for all channels
    return ops.prelu(x, ctx.weight(1, (1,) if shared else (channels,), "gamma (slope)"))


def _softmax_along(x, axis: int, temperature: float | None, log: bool):
    if temperature not in (None, 1.0):
        x = ops.divide(x, const(temperature))
    return ops.log_softmax(x, axis) if log else ops.softmax(x, axis)


def softmax(ctx: NodeContext, log: bool = False):
    a = ctx.attrs
    if a.flag("use_length", False):
        raise ctx.fail("use_length=True is not supported")
    axis = norm_axis(a.integer("axis", -1), len(ctx.shape(0)), ctx)
    return _softmax_along(ctx.input(0), axis, a.opt_number("temperature"), log)


def _flat_softmax(ctx: NodeContext):
    shape = ctx.shape(0)
    flat = ops.reshape(ctx.input(0), axes_const([shape[0], int(np.prod(shape[1:]))]), special_zero=False)
    return ops.reshape(ops.softmax(flat, 1), axes_const(shape), special_zero=False)


def softmax_activation(ctx: NodeContext):
    if ctx.attrs.choice("mode", ("instance", "channel"), "instance") == "channel":
        return ops.softmax(ctx.input(0), 1)
    return _flat_softmax(ctx)


def softmax_output(ctx: NodeContext):
    """``SoftmaxOutput``'s forward pass (its label input and loss settings only matter in training)."""
    a = ctx.attrs
    if a.flag("multi_output", False):
        return ops.softmax(ctx.input(0), 1)
    if a.flag("preserve_shape", False):
        return ops.softmax(ctx.input(0), len(ctx.shape(0)) - 1)
    return _flat_softmax(ctx)


def identity(ctx: NodeContext):
    return ctx.input(0)


def cast(ctx: NodeContext):
    dtype = ctx.attrs.text("dtype", "float32")
    if dtype.startswith(("float", "bfloat")):
        return ctx.input(0)  # the converted graph computes in float32 throughout
    if dtype in ("int8", "int32", "int64", "uint8", "bool"):
        return ops.convert(ops.convert(ctx.input(0), "i64"), "f32")  # truncation toward zero, kept as float32
    raise ctx.fail(f"Cast to {dtype!r} is not supported")


def embedding(ctx: NodeContext):
    a = ctx.attrs
    rows, width = a.integer("input_dim"), a.integer("output_dim")
    weight = ctx.weight(1, (rows, width), "embedding weight")
    index = ops.convert(ops.clamp(ctx.input(0), 0.0, float(rows - 1)), "i32")
    return ops.gather(weight, index, 0)


CONVERTERS: dict[str, Converter] = {
    "BatchNorm": batch_norm,
    "BatchNorm_v1": batch_norm,
    "InstanceNorm": instance_norm,
    "L2Normalization": l2_normalization,
    "LRN": lrn,
    "FullyConnected": fully_connected,
    "Activation": activation,
    "LeakyReLU": leaky_relu,
    "softmax": softmax,
    "log_softmax": lambda ctx: softmax(ctx, log=True),
    "SoftmaxActivation": softmax_activation,
    "SoftmaxOutput": softmax_output,
    "Softmax": softmax_output,
    "LinearRegressionOutput": identity,
    "MAERegressionOutput": identity,
    "LogisticRegressionOutput": lambda ctx: ops.sigmoid(ctx.input(0)),
    "Dropout": identity,
    "BlockGrad": identity,
    "stop_gradient": identity,
    "identity": identity,
    "_copy": identity,
    "Cast": cast,
    "cast": cast,
    "Embedding": embedding,
}
