"""Caffe deploy networks without Caffe: prototxt text + caffemodel bytes written here field by field in protobuf's
wire format (numbers from caffe.proto), converted, and checked against numpy code that follows Caffe's layers
(ceil-mode pooling with its padding rule, BatchNorm's scale factor, Eltwise coefficients, LRN, V1 files)."""

from __future__ import annotations

import math

import numpy as np
import openvino as ov
import pytest

from simulator.errors import ModelNotFoundError
from simulator.inference.caffe import ModelFormatError, convert_caffe, read_caffe

RNG = np.random.default_rng(17)


# --- protobuf wire format ----------------------------------------------------------------------------------------

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def tag(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def sub(field: int, payload: bytes) -> bytes:
    return tag(field, 2) + varint(len(payload)) + payload


def text(field: int, value: str) -> bytes:
    return sub(field, value.encode())


def blob(array: np.ndarray, legacy: bool = False) -> bytes:
    data = sub(5, np.asarray(array, "<f4").tobytes())  # BlobProto.data, packed float
    if legacy:  # num, channels, height, width (fields 1-4)
        dims = (1,) * (4 - array.ndim) + array.shape
        return b"".join(tag(i + 1, 0) + varint(d) for i, d in enumerate(dims)) + data
    shape = sub(1, b"".join(varint(d) for d in array.shape))  # BlobShape.dim, packed int64
    return sub(7, shape) + data


def caffemodel(layers: dict[str, list[np.ndarray]], v1_types: dict[str, int] | None = None) -> bytes:
    out = b""
    for name, arrays in layers.items():
        if v1_types is None:  # NetParameter.layer (100): LayerParameter name 1, blobs 7
            out += sub(100, text(1, name) + b"".join(sub(7, blob(a)) for a in arrays))
        else:  # NetParameter.layers (2): V1LayerParameter name 4, type 5, blobs 6
            out += sub(2, text(4, name) + tag(5, 0) + varint(v1_types[name])
                       + b"".join(sub(6, blob(a, legacy=True)) for a in arrays))
    return out


# --- numpy references ---------------------------------------------------------------------------------------------

def conv(x, w, b, pad, stride=1, groups=1):
    n, c, h, wd = x.shape
    o, cg, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        for i in range(k):
            for j in range(k):
                patch = xp[:, g * cg:(g + 1) * cg, i:i + stride * oh:stride, j:j + stride * ow:stride]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, w[g * og:(g + 1) * og, :, i, j])
    return out + b[None, :, None, None]


def caffe_pool(x, k, s, p, kind):
    n, c, h, w = x.shape
    sizes = []
    for d in (h, w):
        out = math.ceil((d + 2 * p - k) / s) + 1
        if p and (out - 1) * s >= d + p:
            out -= 1
        sizes.append(out)
    y = np.zeros((n, c, *sizes))
    for i in range(sizes[0]):
        for j in range(sizes[1]):
            hs, ws = i * s - p, j * s - p
            he, we = min(hs + k, h + p), min(ws + k, w + p)
            area = (he - hs) * (we - ws)
            win = x[:, :, max(hs, 0):min(he, h), max(ws, 0):min(we, w)]
            y[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.sum(axis=(2, 3)) / area
    return y


PROTOTXT = """
name: "tiny"
input: "data"
input_shape { dim: 1 dim: 3 dim: 13 dim: 13 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" param { lr_mult: 1 decay_mult: 1 }
        convolution_param { num_output: 8 kernel_size: 3 pad: 1 weight_filler { type: "xavier" } } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" batch_norm_param { use_global_stats: true } }
layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2"
        convolution_param { num_output: 8 kernel_size: 3 pad: 1 group: 2 } }
layer { name: "drop" type: "Dropout" bottom: "conv2" top: "conv2" include { phase: TRAIN } }
layer { name: "sum" type: "Eltwise" bottom: "pool1" bottom: "conv2" top: "sum"
        eltwise_param { operation: SUM coeff: 1 coeff: -0.5 } }
layer { name: "pool2" type: "Pooling" bottom: "sum" top: "pool2"
        pooling_param { pool: AVE kernel_size: 2 stride: 3 pad: 1 } }
layer { name: "split" type: "Split" bottom: "pool2" top: "a" top: "b" }
layer { name: "lrn" type: "LRN" bottom: "a" top: "lrn" lrn_param { local_size: 3 alpha: 0.1 beta: 0.75 k: 2 } }
layer { name: "cat" type: "Concat" bottom: "lrn" bottom: "b" top: "cat" }
layer { name: "fc" type: "InnerProduct" bottom: "cat" top: "fc" inner_product_param { num_output: 5 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""


def weights():
    return {
        "conv1": [RNG.normal(0, 0.3, (8, 3, 3, 3)), RNG.normal(0, 0.1, (8,))],
        "bn1": [RNG.normal(0, 0.2, (8,)) * 4, RNG.uniform(0.5, 1.5, (8,)) * 4, np.array([4.0])],
        "scale1": [RNG.uniform(0.5, 1.5, (8,)), RNG.normal(0, 0.2, (8,))],
        "conv2": [RNG.normal(0, 0.3, (8, 4, 3, 3)), RNG.normal(0, 0.1, (8,))],
        "fc": [RNG.normal(0, 0.3, (5, 16 * 3 * 3)), RNG.normal(0, 0.1, (5,))],
    }


def reference(x, w):
    y = conv(x, *w["conv1"], pad=1)
    mean, var = w["bn1"][0] / 4, w["bn1"][1] / 4
    y = (y - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    y = np.maximum(y * w["scale1"][0][None, :, None, None] + w["scale1"][1][None, :, None, None], 0)
    p1 = caffe_pool(y, 3, 2, 1, "max")
    s = p1 - 0.5 * conv(p1, *w["conv2"], pad=1, groups=2)
    p2 = caffe_pool(s, 2, 3, 1, "avg")
    sq = np.pad(p2 ** 2, ((0, 0), (1, 1), (0, 0), (0, 0)))
    lrn = p2 / (2 + 0.1 / 3 * sum(sq[:, i:i + 8] for i in range(3))) ** 0.75
    fc = np.concatenate([lrn, p2], axis=1).reshape(1, -1) @ w["fc"][0].T + w["fc"][1]
    e = np.exp(fc - fc.max())
    return e / e.sum()


def run(model, x):
    return np.asarray(ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0])


def test_deploy_network_matches_caffe_semantics(tmp_path):
    w = weights()
    (tmp_path / "tiny.prototxt").write_text(PROTOTXT)
    (tmp_path / "tiny.caffemodel").write_bytes(caffemodel(w))
    model = read_caffe(tmp_path / "tiny.prototxt", tmp_path / "tiny.caffemodel")
    assert [o.any_name for o in model.outputs] == ["prob"] and model.input(0).any_name == "data"
    x = RNG.uniform(-1, 1, (1, 3, 13, 13)).astype(np.float32)
    got = run(model, x)
    np.testing.assert_allclose(got, reference(x.astype(np.float64), w), rtol=1e-4, atol=1e-6)
    # pooling: 13 -> 7 (max, ceil) -> 3 (the ceil-mode window starting in the padding is dropped)
    assert caffe_pool(np.zeros((1, 1, 7, 7)), 2, 3, 1, "avg").shape[-1] == 3
    xml = convert_caffe(tmp_path, "tiny", 13, 13, precision="FP32")
    assert xml.name == "caffe_tiny_FP32_FUSED.xml"
    np.testing.assert_allclose(run(ov.Core().read_model(str(xml)), x), got, rtol=1e-6)


def test_v1_layers_with_legacy_blob_shapes(tmp_path):
    prototxt = """name: "old" input: "data" input_dim: 1 input_dim: 2 input_dim: 6 input_dim: 6
layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" convolution_param { num_output: 3 kernel_size: 3 } }
layers { name: "relu" type: RELU bottom: "conv" top: "conv" relu_param { negative_slope: 0.1 } }
layers { name: "pool" type: POOLING bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layers { name: "ip" type: INNER_PRODUCT bottom: "pool" top: "ip" inner_product_param { num_output: 4 } }
layers { name: "loss" type: SOFTMAX bottom: "ip" top: "loss" }
"""
    w = {"conv": [RNG.normal(size=(3, 2, 3, 3)), RNG.normal(size=(3,))],
         "ip": [RNG.normal(size=(4, 12)), RNG.normal(size=(4,))]}
    (tmp_path / "old.prototxt").write_text(prototxt)
    (tmp_path / "old.caffemodel").write_bytes(caffemodel(w, v1_types={"conv": 4, "ip": 14}))
    x = RNG.uniform(-1, 1, (1, 2, 6, 6)).astype(np.float32)
    y = conv(x.astype(np.float64), *w["conv"], pad=0)
    y = caffe_pool(np.where(y > 0, y, 0.1 * y), 2, 2, 0, "max").reshape(1, -1) @ w["ip"][0].T + w["ip"][1]
    want = np.exp(y) / np.exp(y).sum()
    np.testing.assert_allclose(run(read_caffe(tmp_path / "old.prototxt", tmp_path / "old.caffemodel"), x), want,
                               rtol=1e-4, atol=1e-6)


def test_bad_caffe_files_are_named(tmp_path):
    w = weights()
    (tmp_path / "n.prototxt").write_text(PROTOTXT.replace('type: "LRN"', 'type: "Python"'))
    (tmp_path / "n.caffemodel").write_bytes(caffemodel(w))
    with pytest.raises(ModelFormatError, match=r"n\.prototxt: layer 'lrn' \(Python\): layer type 'Python' is not "
                                               r"supported"):
        read_caffe(tmp_path / "n.prototxt", tmp_path / "n.caffemodel")
    (tmp_path / "n.prototxt").write_text(PROTOTXT)
    w["conv2"][0] = w["conv2"][0][:, :3]
    (tmp_path / "n.caffemodel").write_bytes(caffemodel(w))
    with pytest.raises(ModelFormatError, match=r"layer 'conv2' \(Convolution\): blob 0 \(weights\) has shape "
                                               r"\(8, 3, 3, 3\), the layer needs \(8, 4, 3, 3\)"):
        read_caffe(tmp_path / "n.prototxt", tmp_path / "n.caffemodel")
    data = caffemodel(weights())
    (tmp_path / "n.caffemodel").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="not a Caffe .caffemodel"):
        read_caffe(tmp_path / "n.prototxt", tmp_path / "n.caffemodel")
    (tmp_path / "bad.prototxt").write_text('name: "x"\nlayer { name: "a" type: "ReLU" bottom: }\n')
    with pytest.raises(ModelFormatError, match=r"bad\.prototxt:2: not a valid Caffe prototxt"):
        read_caffe(tmp_path / "bad.prototxt", tmp_path / "n.caffemodel")
    with pytest.raises(ModelNotFoundError, match="Caffe weights file not found"):
        read_caffe(tmp_path / "n.prototxt", tmp_path / "absent.caffemodel")
    (tmp_path / "n.caffemodel").write_bytes(data)
    (tmp_path / "train.prototxt").write_text('layer { name: "d" type: "Data" top: "data" }')
    with pytest.raises(ModelFormatError, match="reads a training database"):
        read_caffe(tmp_path / "train.prototxt", tmp_path / "n.caffemodel")
