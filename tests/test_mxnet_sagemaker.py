"""SageMaker object-detection models (MXNet's SSD: VGG-16-reduced at 300, ResNet-50 at 512) convert and run.

The symbols are rebuilt layer for layer as MXNet's SSD example (the code SageMaker's built-in algorithm trains)
writes them: node names, operators and attributes, including the ``relu4_3_scale`` variable with its
``__shape__``/``__init__`` attributes, ``pooling_convention="full"``, dilated ``fc6``, the ``_plusN`` shortcuts
of ResNet and the 6 MultiBoxPrior layers with their sizes, ratios and steps. Widths are divided by 8 to keep the
test light; the anchors (8732 / 6132) and the whole detection head are the real ones, checked against numpy.
"""

from __future__ import annotations

import cv2
import numpy as np
import openvino as ov
import pytest
import skimage.data

from simulator.inference.mxnet import read_mxnet
from tests.support.mxnet_files import SymbolBuilder, ref_detection, ref_prior, write_checkpoint

SIZES = ((.1, .141), (.2, .272), (.37, .447), (.54, .619), (.71, .79), (.88, .961))
RATIOS = ((1, 2, .5), (1, 2, .5, 3, 1. / 3), (1, 2, .5, 3, 1. / 3), (1, 2, .5, 3, 1. / 3), (1, 2, .5), (1, 2, .5))


class Factory:
    def __init__(self, width_div: int, seed: int = 0) -> None:
        self.s, self.div, self.params, self.aux = SymbolBuilder(), width_div, {}, set()
        self.rng = np.random.default_rng(seed)
        self.auto = 0

    def w(self, n: int) -> int:
        return max(4, n // self.div)

    def var(self, name, shape, aux=False, scale=None, **attrs):
        value = self.rng.normal(0, scale, shape) if scale else self.rng.uniform(0.5, 1.5, shape)
        self.params[name] = value.astype(np.float32)
        if aux:
            self.aux.add(name)
        return self.s.var(name, **attrs)

    def conv(self, x, name, cin, cout, k=3, stride=1, pad=1, dilate=1, bias=True, gain=1.0):
        ins = [x, self.var(f"{name}_weight", (cout, cin, k, k), scale=gain * (2 / (cin * k * k)) ** .5)]
        if bias:
            ins.append(self.var(f"{name}_bias", (cout,), scale=0.05))
        return self.s.op("Convolution", name, ins, kernel=(k, k), stride=(stride, stride), pad=(pad, pad),
                         dilate=(dilate, dilate), num_filter=cout, no_bias=not bias, workspace=256)

    def bn(self, x, name, c, fix_gamma=False):
        ins = [x, self.var(f"{name}_gamma", (c,)), self.var(f"{name}_beta", (c,), scale=.1),
               self.var(f"{name}_moving_mean", (c,), True, scale=.1), self.var(f"{name}_moving_var", (c,), True)]
        return self.s.op("BatchNorm", name, ins, fix_gamma=fix_gamma, eps=2e-5, momentum=0.9)

    def relu(self, x, name):
        return self.s.op("Activation", name, [x], act_type="relu")

    def pool(self, x, name=None, **attrs):
        if name is None:
            name, self.auto = f"pooling{self.auto}", self.auto + 1
        return self.s.op("Pooling", name, [x], **attrs)


def vgg16_reduced(f: Factory):
    """symbol/vgg16_reduced.py: returns {layer name: (ref, channels)} of the layers SSD taps."""
    x, cin, taps = f.s.var("data"), 3, {}
    for g, (n, c) in enumerate(((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)), start=1):
        for i in range(1, n + 1):
            x = f.relu(f.conv(x, f"conv{g}_{i}", cin, f.w(c)), f"relu{g}_{i}")
            cin = f.w(c)
        taps[f"relu{g}_{n}"] = (x, cin)
        if g == 3:
            x = f.pool(x, "pool3", pool_type="max", kernel=(2, 2), stride=(2, 2), pooling_convention="full")
        elif g == 5:
            x = f.pool(x, "pool5", pool_type="max", kernel=(3, 3), stride=(1, 1), pad=(1, 1))
        else:
            x = f.pool(x, f"pool{g}", pool_type="max", kernel=(2, 2), stride=(2, 2))
    x = f.relu(f.conv(x, "fc6", cin, f.w(1024), pad=6, dilate=6), "relu6")
    x = f.relu(f.conv(x, "fc7", f.w(1024), f.w(1024), k=1, pad=0), "relu7")
    taps["relu7"] = (x, f.w(1024))
    return taps


def resnet50(f: Factory):
    """symbol/resnet.py (50 layers, bottleneck): taps the ``_plusN`` outputs."""
    filters, units = [f.w(n) for n in (64, 256, 512, 1024, 2048)], (3, 4, 6, 3)
    x = f.s.op("identity", "id", [f.s.var("data")])
    x = f.bn(x, "bn_data", 3, fix_gamma=True)
    f.params["bn_data_moving_mean"] = np.array([104.0, 117.0, 124.0], np.float32)  # pixel statistics, as trained
    f.params["bn_data_moving_var"] = np.array([57.0, 57.0, 58.0], np.float32) ** 2
    x = f.relu(f.bn(f.conv(x, "conv0", 3, filters[0], k=7, stride=2, pad=3, bias=False), "bn0", filters[0]), "relu0")
    x, cin, plus, taps = f.pool(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max"), filters[0], 0, {}
    for stage, count in enumerate(units):
        nf = filters[stage + 1]
        for unit in range(count):
            name, stride = f"stage{stage + 1}_unit{unit + 1}", (2 if stage and unit == 0 else 1)
            act1 = f.relu(f.bn(x, f"{name}_bn1", cin), f"{name}_relu1")
            y = f.conv(act1, f"{name}_conv1", cin, nf // 4, k=1, pad=0, bias=False)
            y = f.conv(f.relu(f.bn(y, f"{name}_bn2", nf // 4), f"{name}_relu2"), f"{name}_conv2", nf // 4, nf // 4,
                       stride=stride, bias=False)
            y = f.conv(f.relu(f.bn(y, f"{name}_bn3", nf // 4), f"{name}_relu3"), f"{name}_conv3", nf // 4, nf, k=1,
                       pad=0, bias=False, gain=0.2)  # keeps random activations bounded over 16 units
            short = x if unit else f.conv(act1, f"{name}_sc", cin, nf, k=1, stride=stride, pad=0, bias=False)
            x, cin = f.s.op("elemwise_add", f"_plus{plus}", [y, short]), nf
            taps[f"_plus{plus}"], plus = (x, nf), plus + 1
    return taps


def ssd(base: str, image: int, classes: int = 20, width_div: int = 8, heads: str = "detection"):
    """symbol_builder.get_symbol (the deploy symbol), as symbol_factory configures ``base``."""
    f = Factory(width_div)
    s = f.s
    if base == "vgg16_reduced":
        taps = vgg16_reduced(f)
        from_layers, num_filters = ["relu4_3", "relu7", "", "", "", ""], [512, -1, 512, 256, 256, 256]
        strides, pads, norms = [-1, -1, 2, 2, 1, 1], [-1, -1, 1, 1, 0, 0], [20, -1, -1, -1, -1, -1]
        steps = [x / 300.0 for x in (8, 16, 32, 64, 100, 300)]
    else:
        taps = resnet50(f)
        from_layers, num_filters = ["_plus12", "_plus15", "", "", "", ""], [-1, -1, 512, 256, 256, 128]
        strides, pads, norms, steps = [-1, -1, 2, 2, 2, 2], [-1, -1, 1, 1, 1, 1], [-1] * 6, []
    layers = []
    for k, (name, nf, st, pd) in enumerate(zip(from_layers, num_filters, strides, pads, strict=True)):
        if name:
            layers.append((taps[name][0], taps[name][1], name))
            continue
        prev, cin, _ = layers[-1]
        n1 = max(f.w(128), f.w(nf) // 2)
        y = f.relu(f.conv(prev, f"multi_feat_{k}_conv_1x1_conv", cin, n1, k=1, pad=0), f"multi_feat_{k}_conv_1x1_relu")
        y = f.relu(f.conv(y, f"multi_feat_{k}_conv_3x3_conv", n1, f.w(nf), stride=st, pad=pd),
                   f"multi_feat_{k}_conv_3x3_relu")
        layers.append((y, f.w(nf), f"multi_feat_{k}_conv_3x3_relu"))
    loc_layers, cls_layers, anchor_layers = [], [], []
    for k, (x, cin, name) in enumerate(layers):
        if norms[k] > 0:
            x = s.op("L2Normalization", f"{name}_norm", [x], mode="channel")
            scale = f.var(f"{name}_scale", (1, cin, 1, 1), __shape__=(1, cin, 1, 1), __wd_mult__="0.1",
                          __init__='["constant", {"value": 20}]')
            x = s.op("broadcast_mul", f"broadcast_mul{k}", [scale, x])
        per_cell = len(SIZES[k]) - 1 + len(RATIOS[k])
        for kind, width, bucket in (("loc", 4, loc_layers), ("cls", classes + 1, cls_layers)):
            pred = f.conv(x, f"{name}_{kind}_pred_conv", cin, per_cell * width, gain=0.05)  # box offsets of a few
            bucket.append(s.op("Flatten", f"flatten_{kind}{k}", [s.op("transpose", f"t_{kind}{k}", [pred],
                                                                         axes=(0, 2, 3, 1))]))
        step = (steps[k], steps[k]) if steps else (-1.0, -1.0)
        prior = s.op("_contrib_MultiBoxPrior", f"{name}_anchors", [x], sizes=SIZES[k], ratios=RATIOS[k], clip=False,
                     steps=step)
        anchor_layers.append(s.op("Flatten", f"flatten_anchor{k}", [prior]))
    loc = s.op("Concat", "multibox_loc_pred", loc_layers, num_args=6, dim=1)
    cls = s.op("Reshape", "reshape0", [s.op("Concat", "concat0", cls_layers, num_args=6, dim=1)],
               shape=(0, -1, classes + 1))
    cls = s.op("transpose", "multibox_cls_pred", [cls], axes=(0, 2, 1))
    anchors = s.op("Reshape", "multibox_anchors", [s.op("Concat", "concat1", anchor_layers, num_args=6, dim=1)],
                   shape=(0, -1, 4))
    prob = s.op("softmax", "cls_prob", [cls], axis=1)
    det = s.op("_contrib_MultiBoxDetection", "detection", [prob, loc, anchors], nms_threshold=0.45,
               force_suppress=False, variances=(0.1, 0.1, 0.2, 0.2), nms_topk=400)
    out = [prob, loc, anchors] if heads == "parts" else [det]
    return s.json(out), f.params, f.aux


@pytest.mark.parametrize(("base", "image", "anchors"), [("vgg16_reduced", 300, 8732), ("resnet50", 512, 6132)])
def test_sagemaker_ssd_runs_and_matches_multibox_reference(tmp_path, base, image, anchors):
    symbol, params, aux = ssd(base, image)
    files = write_checkpoint(tmp_path, "deploy_model_algo_1", symbol, params, aux)
    frame = skimage.data.astronaut()[:, :, ::-1]  # BGR, as awscam delivers
    x = cv2.resize(frame, (image, image)).transpose(2, 0, 1)[None].astype(np.float32)
    core = ov.Core()

    def run(model):
        compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        result = compiled(x)
        return [np.asarray(result[i]) for i in range(len(compiled.outputs))]

    (rows,) = run(read_mxnet(*files, (1, 3, image, image)))
    assert rows.shape == (1, 1, anchors, 7)
    (raw,) = run(read_mxnet(*files, (1, 3, image, image), detection_rows="mxnet"))
    parts_symbol, _, _ = ssd(base, image, heads="parts")
    parts = write_checkpoint(tmp_path / "parts", "parts", parts_symbol, params, aux)
    prob, loc, prior = run(read_mxnet(*parts, (1, 3, image, image)))
    assert prob.shape == (1, 21, anchors) and prior.shape == (1, anchors, 4)
    maps = [38, 19, 10, 5, 3, 1] if image == 300 else [32, 16, 8, 4, 2, 1]
    steps = [(s / 300.0, s / 300.0) for s in (8, 16, 32, 64, 100, 300)] if image == 300 else [(-1.0, -1.0)] * 6
    want_prior = np.concatenate([ref_prior(m, m, SIZES[k], RATIOS[k], steps[k]).reshape(1, -1, 4)
                                 for k, m in enumerate(maps)], axis=1)
    np.testing.assert_allclose(prior, want_prior, rtol=1e-5, atol=1e-6)
    want = ref_detection(prob, loc, want_prior, nms=0.45, topk=400)
    np.testing.assert_allclose(raw, want, rtol=1e-4, atol=1e-4)
    kept = want[0][want[0, :, 0] >= 0]
    assert 0 < len(kept) <= 400
    table = rows.reshape(-1, 7)
    np.testing.assert_allclose(table[: len(kept), 1], kept[:, 0] + 1)  # VOC labels 1..20
    assert np.all(table[len(kept):, 0] == -1) and set(table[: len(kept), 1]) <= set(range(1, 21))
