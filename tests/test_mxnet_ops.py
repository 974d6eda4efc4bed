"""Single MXNet operators converted without MXNet, each checked against numpy code written from MXNet's
definition (defaults included: Deconvolution has no bias unless asked, BatchNorm fixes gamma, Pooling strides 1)."""

from __future__ import annotations

import math

import numpy as np
import openvino as ov
import pytest
from scipy.special import erf

from simulator.inference.mxnet import read_mxnet
from tests.support.mxnet_files import SymbolBuilder, write_checkpoint

RNG = np.random.default_rng(21)
X = RNG.uniform(-2, 2, (1, 4, 6, 6)).astype(np.float32)


def convert_run(tmp_path, build, x=X) -> np.ndarray:
    s = SymbolBuilder()
    params: dict[str, np.ndarray] = {}

    def param(name, value):
        params[name] = np.asarray(value, np.float32)
        return s.var(name)

    out = build(s, s.var("data"), param)
    model = read_mxnet(*write_checkpoint(tmp_path, "op", s.json([out]), params), x.shape)
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return np.asarray(compiled(x)[0])


def check(tmp_path, build, expected, x=X, tol=1e-4):
    got = convert_run(tmp_path, build, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def ref_deconv(x, w, stride, pad, adj, groups, bias=None):
    n, c, h, wd = x.shape
    cg, fg, k = c // groups, w.shape[1], w.shape[2]
    canvas = np.zeros((n, fg * groups, (h - 1) * stride + k + adj, (wd - 1) * stride + k + adj))
    for g in range(groups):
        for ci in range(cg):
            for i in range(h):
                for j in range(wd):
                    canvas[:, g * fg:(g + 1) * fg, i * stride:i * stride + k, j * stride:j * stride + k] += \
                        x[:, g * cg + ci, i, j][:, None, None, None] * w[g * cg + ci][None]
    out = canvas[:, :, pad:canvas.shape[2] - pad, pad:canvas.shape[3] - pad]
    return out + (0 if bias is None else bias[None, :, None, None])


def test_deconvolution_groups_stride_adj_bias(tmp_path):
    w, b = RNG.normal(size=(4, 3, 3, 3)), RNG.normal(size=(6,))
    check(tmp_path, lambda s, x, p: s.op("Deconvolution", "up", [x, p("up_weight", w), p("up_bias", b)],
                                         kernel=(3, 3), stride=(2, 2), pad=(1, 1), adj=(1, 1), num_filter=6,
                                         num_group=2, no_bias=False),
          ref_deconv(X, w, 2, 1, 1, 2, b))


def test_deconvolution_target_shape_and_default_no_bias(tmp_path):
    w = RNG.normal(size=(4, 2, 4, 4))
    check(tmp_path, lambda s, x, p: s.op("Deconvolution", "up", [x, p("up_weight", w)], kernel=(4, 4),
                                         stride=(2, 2), num_filter=2, target_shape=(12, 12)),
          ref_deconv(X, w, 2, 1, 0, 1))  # (6-1)*2+4 = 14 -> pad 1 either side gives 12


def ref_pool(x, k, s, p, kind, full, include_pad=True):
    n, c, h, w = x.shape
    rnd = math.ceil if full else math.floor
    oh, ow = 1 + rnd((h + 2 * p - k) / s), 1 + rnd((w + 2 * p - k) / s)
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * s - p, j * s - p
            he, we = min(hs + k, h + p), min(ws + k, w + p)
            size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            win = x[:, :, hs:he, ws:we]
            if kind == "max":
                out[:, :, i, j] = win.max(axis=(2, 3))
            elif kind == "sum":
                out[:, :, i, j] = win.sum(axis=(2, 3))
            else:
                out[:, :, i, j] = win.sum(axis=(2, 3)) / (size if include_pad else (he - hs) * (we - ws))
    return out


@pytest.mark.parametrize(("kind", "k", "s", "p", "full", "include"), [
    ("avg", 3, 2, 0, True, True), ("avg", 3, 2, 1, True, False), ("avg", 2, 2, 1, False, False),
    ("sum", 3, 2, 1, False, True), ("sum", 3, 2, 0, True, True), ("max", 3, 2, 0, True, True),
    ("max", 2, 1, 1, False, True),
])
def test_pooling_conventions(tmp_path, kind, k, s, p, full, include):
    attrs = {"kernel": (k, k), "stride": (s, s), "pad": (p, p), "pool_type": kind,
             "pooling_convention": "full" if full else "valid", "count_include_pad": include}
    check(tmp_path, lambda sb, x, _: sb.op("Pooling", "pool", [x], **attrs), ref_pool(X, k, s, p, kind, full, include))


def _softplus(v):
    return np.log1p(np.exp(v))


@pytest.mark.parametrize(("op", "attrs", "fn"), [
    ("Activation", {"act_type": "softrelu"}, _softplus),
    ("Activation", {"act_type": "softsign"}, lambda v: v / (1 + np.abs(v))),
    ("Activation", {"act_type": "sigmoid"}, lambda v: 1 / (1 + np.exp(-v))),
    ("Activation", {"act_type": "tanh"}, np.tanh),
    ("LeakyReLU", {"act_type": "elu", "slope": 0.3}, lambda v: np.where(v > 0, v, 0.3 * (np.exp(v) - 1))),
    ("LeakyReLU", {"act_type": "selu"},
     lambda v: 1.0507009873554805 * np.where(v > 0, v, 1.6732632423543772 * (np.exp(v) - 1))),
    ("LeakyReLU", {"act_type": "gelu"}, lambda v: 0.5 * v * (1 + erf(v / np.sqrt(2)))),
    ("LeakyReLU", {"act_type": "rrelu", "lower_bound": 0.1, "upper_bound": 0.3}, lambda v: np.where(v > 0, v, .2 * v)),
    ("clip", {"a_min": -0.5, "a_max": 0.7}, lambda v: np.clip(v, -0.5, 0.7)),
    ("_rminus_scalar", {"scalar": 2.0}, lambda v: 2.0 - v),
    ("_rdiv_scalar", {"scalar": 3.0}, lambda v: 3.0 / v),
    ("_power_scalar", {"scalar": 2.0}, np.square),
    ("_maximum_scalar", {"scalar": 0.25}, lambda v: np.maximum(v, 0.25)),
    ("softmax", {"axis": 2, "temperature": 2.0}, lambda v: np.exp(v / 2) / np.exp(v / 2).sum(2, keepdims=True)),
    ("log_softmax", {}, lambda v: v - np.log(np.exp(v).sum(-1, keepdims=True))),
    ("SoftmaxActivation", {}, lambda v: (np.exp(v) / np.exp(v).sum(axis=(1, 2, 3), keepdims=True))),
    ("L2Normalization", {"mode": "channel"}, lambda v: v / np.sqrt((v * v).sum(1, keepdims=True) + 1e-10)),
    ("L2Normalization", {"mode": "instance", "eps": 0.5},
     lambda v: v / np.sqrt((v * v).sum((1, 2, 3), keepdims=True) + 0.5)),
    ("mean", {"axis": (1, 3), "keepdims": True}, lambda v: v.mean(axis=(1, 3), keepdims=True)),
    ("sum", {"axis": (1,), "exclude": True}, lambda v: v.sum(axis=(0, 2, 3))),
    ("transpose", {"axes": (0, 3, 1, 2)}, lambda v: v.transpose(0, 3, 1, 2)),
    ("SwapAxis", {"dim1": 1, "dim2": 3}, lambda v: v.swapaxes(1, 3)),
    ("slice_axis", {"axis": 2, "begin": -4, "end": "None"}, lambda v: v[:, :, -4:]),
    ("slice", {"begin": ("None", 1, "None", 5), "end": ("None", "None", 1, 0), "step": ("None", 2, -2, -2)},
     lambda v: v[:, 1::2, :1:-2, 5:0:-2]),
    ("Pad", {"mode": "edge", "pad_width": (0, 0, 0, 0, 1, 2, 2, 1)},
     lambda v: np.pad(v, ((0, 0), (0, 0), (1, 2), (2, 1)), mode="edge")),
    ("UpSampling", {"sample_type": "nearest", "scale": 2}, lambda v: v.repeat(2, 2).repeat(2, 3)),
    ("Flatten", {}, lambda v: v.reshape(1, -1)),
    ("expand_dims", {"axis": -1}, lambda v: v[..., None]),
    ("Dropout", {"p": 0.5}, lambda v: v),
])
def test_unary_operators(tmp_path, op, attrs, fn):
    check(tmp_path, lambda s, x, _: s.op(op, "y", [x], **attrs), fn(X.astype(np.float64)))


def test_lrn_and_prelu(tmp_path):
    sq = np.pad(X.astype(np.float64) ** 2, ((0, 0), (1, 1), (0, 0), (0, 0)))
    window = sum(sq[:, i:i + 4] for i in range(3))
    check(tmp_path, lambda s, x, _: s.op("LRN", "lrn", [x], nsize=3, alpha=0.1, beta=0.75, knorm=1.5),
          X / (1.5 + 0.1 / 3 * window) ** 0.75)
    gamma = np.array([0.1, 0.2, 0.3, 0.4])
    check(tmp_path, lambda s, x, p: s.op("LeakyReLU", "pr", [x, p("pr_gamma", gamma)], act_type="prelu"),
          np.where(X > 0, X, X * gamma[None, :, None, None]))


@pytest.mark.parametrize(("codes", "reverse", "shape"), [
    ((0, -1), False, (1, 144)), ((-3, -2), False, (4, 6, 6)), ((0, 0, -4, 2, -1, -2), False, (1, 4, 2, 3, 6)),
    ((-1, 0), True, (24, 6)), ((0, -4, -1, 2, 0, 0), False, (1, 2, 2, 6, 6)), ((2, 0, -1), False, (2, 4, 18)),
])
def test_reshape_special_codes(tmp_path, codes, reverse, shape):
    check(tmp_path, lambda s, x, _: s.op("Reshape", "r", [x], shape=codes, reverse=reverse), X.reshape(shape))


def test_binary_split_concat_and_batchnorm_defaults(tmp_path):
    scale = RNG.normal(size=(1, 4, 1, 1))
    mean, var, beta, gamma = (RNG.uniform(0.5, 1.5, 4) for _ in range(4))

    def build(s, x, p):
        a = s.op("SliceChannel", "parts", [x], num_outputs=2, axis=1)
        b = (a[0], 1)  # the second output
        mixed = s.op("elemwise_sub", "sub", [s.op("broadcast_mul", "mul", [a, p("s", scale[:, :2])]), b])
        both = s.op("Concat", "cat", [mixed, a], dim=1, num_args=2)
        return s.op("BatchNorm", "bn", [both, p("g", gamma), p("be", beta), p("m", mean), p("v", var)])

    a, b = X[:, :2], X[:, 2:]
    both = np.concatenate([a * scale[:, :2] - b, a], axis=1)
    expected = (both - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-3) + beta[None, :, None, None]
    check(tmp_path, build, expected)


def test_fully_connected_without_flatten_and_embedding(tmp_path):
    w, b = RNG.normal(size=(5, 6)), RNG.normal(size=(5,))
    check(tmp_path, lambda s, x, p: s.op("FullyConnected", "fc", [x, p("w", w), p("b", b)], num_hidden=5,
                                         flatten=False), X @ w.T + b)
    table = RNG.normal(size=(10, 3))
    idx = RNG.integers(0, 10, (1, 2, 3, 4)).astype(np.float32)
    check(tmp_path, lambda s, x, p: s.op("Embedding", "emb", [x, p("emb_weight", table)], input_dim=10,
                                         output_dim=3), table[idx.astype(int)], x=idx)
