"""Reference networks built with ``openvino.opset`` and random weights (for counting costs, not for accuracy).

The calibration figures in docs/performance-model.md are published for MobileNetV1-224, MobileNetV2-224 and
ResNet-18-224. Their cost (operations, shapes, weights) does not depend on the weight values, so these builders
reproduce the architectures exactly (BatchNorm folded into a per-channel bias, as every inference runtime does)::

    graph = mobilenet_v2()          # openvino.Model, input [1, 3, 224, 224]
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

_rng = np.random.default_rng(0)


def _channels(x) -> int:
    shape = x.get_output_partial_shape(0) if isinstance(x, ov.Node) else x.get_partial_shape()
    return shape[1].get_length()


class _Builder:
    def __init__(self, weights: str = "f32") -> None:
        if weights not in ("f32", "f16"):
            raise ValueError(f"weights must be 'f32' or 'f16', got {weights!r}")
        self.f16 = weights == "f16"

    def const(self, shape) -> ov.Node:
        value = (_rng.standard_normal(shape) * 0.05).astype(np.float16 if self.f16 else np.float32)
        node = ops.constant(value)
        # an FP16 IR keeps f16 weights and decompresses them with a Convert, as the IR files do
        return ops.convert(node, "f32") if self.f16 else node

    def conv(self, x, cout: int, k: int, stride: int = 1, groups: int = 1, act: str | None = "relu"):
        cin = _channels(x)
        pad = [k // 2, k // 2]
        if groups == 1:
            w = self.const((cout, cin, k, k))
            y = ops.convolution(x, w, [stride, stride], pad, pad, [1, 1])
        else:
            w = self.const((groups, cout // groups, cin // groups, k, k))
            y = ops.group_convolution(x, w, [stride, stride], pad, pad, [1, 1])
        y = ops.add(y, self.const((1, cout, 1, 1)))  # folded BatchNorm
        if act == "relu":
            y = ops.relu(y)
        elif act == "relu6":
            y = ops.clamp(y, 0.0, 6.0)
        return y

    def head(self, x, classes: int = 1000):
        channels = _channels(x)
        y = ops.reduce_mean(x, ops.constant(np.array([2, 3], dtype=np.int64)), keep_dims=False)
        y = ops.matmul(y, self.const((classes, channels)), False, True)
        y = ops.add(y, self.const((1, classes)))
        return ops.softmax(y, 1)


def _model(out, param, name: str) -> ov.Model:
    return ov.Model([ops.result(out)], [param], name)


def _input(size: int) -> ov.Node:
    param = ops.parameter([1, 3, size, size], np.float32, name="data")
    return param


def mobilenet_v2(size: int = 224, weights: str = "f32") -> ov.Model:
    """MobileNetV2 1.0 (Sandler et al. 2018): ~300 M MACs, 3.5 M parameters at 224."""
    b, param = _Builder(weights), _input(size)
    x = b.conv(param, 32, 3, 2, act="relu6")
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = b.conv(x, hidden, 1, act="relu6") if t != 1 else x
            y = b.conv(y, hidden, 3, stride, groups=hidden, act="relu6")
            y = b.conv(y, c, 1, act=None)
            x = ops.add(x, y) if stride == 1 and cin == c else y
            cin = c
    x = b.conv(x, 1280, 1, act="relu6")
    return _model(b.head(x), param, "mobilenet_v2")


def mobilenet_v1(size: int = 224, weights: str = "f32") -> ov.Model:
    """MobileNetV1 1.0 (Howard et al. 2017): ~569 M MACs, 4.2 M parameters at 224."""
    b, param = _Builder(weights), _input(size)
    x = b.conv(param, 32, 3, 2)
    cin = 32
    for c, s in [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]:
        x = b.conv(x, cin, 3, s, groups=cin)
        x = b.conv(x, c, 1)
        cin = c
    return _model(b.head(x), param, "mobilenet_v1")


def resnet18(size: int = 224, weights: str = "f32") -> ov.Model:
    """ResNet-18 (He et al. 2016): ~1.82 G MACs, 11.7 M parameters at 224."""
    b, param = _Builder(weights), _input(size)
    x = b.conv(param, 64, 7, 2)
    x = ops.max_pool(x, [2, 2], [1, 1], [1, 1], [1, 1], [3, 3], "floor", "explicit").output(0)
    cin = 64
    for c, s in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for i in range(2):
            stride = s if i == 0 else 1
            y = b.conv(x, c, 3, stride)
            y = b.conv(y, c, 3, 1, act=None)
            shortcut = b.conv(x, c, 1, stride, act=None) if (stride != 1 or cin != c) else x
            x = ops.relu(ops.add(y, shortcut))
            cin = c
    return _model(b.head(x), param, "resnet18")


REFERENCE_NETS = {"mobilenet_v1": mobilenet_v1, "mobilenet_v2": mobilenet_v2, "resnet18": resnet18}
