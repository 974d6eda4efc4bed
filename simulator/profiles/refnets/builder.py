"""Graph building for the reference networks (``openvino.opset13``, zero weights shared, not copied).

Costs depend on shapes, not on weight values, so every constant is a zero array handed to OpenVINO without a
copy: even VGG-16's 138 M parameters cost no memory. BatchNorm is folded into a per-channel bias, as every
deployed graph has it::

    b = Builder()
    x = b.input(224)
    y = b.conv(x, 64, 7, 2)                  # convolution + bias + activation
    model = b.model(b.classifier(y), "name")
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset8 as ops8
import openvino.opset13 as ops

ACTIVATIONS = ("relu", "relu6", "leaky", "hswish", "hsigmoid", "swish", "gelu", "sigmoid", "tanh", None)


def channels(x) -> int:
    return shape(x)[1]


def shape(x) -> list[int]:
    out = x.output(0) if isinstance(x, ov.Node) else x
    return [d.get_length() for d in out.get_partial_shape()]


class Builder:
    def __init__(self, weights: str = "f32") -> None:
        if weights not in ("f32", "f16"):
            raise ValueError(f"weights must be 'f32' or 'f16', got {weights!r}")
        self.f16 = weights == "f16"
        self.param: ov.Node | None = None

    # --- leaves ------------------------------------------------------------------------------------------
    def input(self, height: int, width: int | None = None, channels_: int = 3) -> ov.Node:
        self.param = ops.parameter([1, channels_, height, width or height], np.float32, name="data")
        return self.param

    def const(self, shape_) -> ov.Node:
        value = np.zeros(tuple(shape_), dtype=np.float16 if self.f16 else np.float32)
        node = ops.constant(value, shared_memory=True)
        # an FP16 IR keeps f16 weights and decompresses them with a Convert, as the IR files do
        return ops.convert(node, "f32") if self.f16 else node

    def ints(self, *values) -> ov.Node:
        return ops.constant(np.array(values, dtype=np.int64))

    def axis(self, value: int) -> ov.Node:
        return ops.constant(np.int64(value))

    def model(self, outputs, name: str) -> ov.Model:
        outs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return ov.Model([ops.result(o) for o in outs], [self.param], name)

    # --- layers ------------------------------------------------------------------------------------------
    def act(self, y, act: str | None):
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}")
        if act == "relu":
            return ops.relu(y)
        if act == "relu6":
            return ops.clamp(y, 0.0, 6.0)
        if act == "leaky":
            return ops.prelu(y, ops.constant(np.array([0.1], dtype=np.float32)))
        if act == "hswish":
            return ops.hswish(y)
        if act == "hsigmoid":
            return ops.hsigmoid(y)
        if act == "tanh":
            return ops.tanh(y)
        if act == "swish":
            return ops.swish(y)
        if act == "gelu":
            return ops.gelu(y, "erf")
        if act == "sigmoid":
            return ops.sigmoid(y)
        return y

    def conv(self, x, cout: int, k: int, stride: int = 1, groups: int = 1, act: str | None = "relu",
             pad: int | None = None, same: bool = False, dilation: int = 1, bias: bool = True):
        """Convolution (``groups`` > 1: grouped; ``groups == cin``: depthwise). ``same``: TensorFlow SAME padding."""
        cin = channels(x)
        p = (k // 2) * dilation if pad is None else pad
        kw = {"auto_pad": "same_upper"} if same else {}
        if groups == 1:
            w = self.const((cout, cin, k, k))
            y = ops.convolution(x, w, [stride, stride], [p, p], [p, p], [dilation, dilation], **kw)
        else:
            w = self.const((groups, cout // groups, cin // groups, k, k))
            y = ops.group_convolution(x, w, [stride, stride], [p, p], [p, p], [dilation, dilation], **kw)
        if bias:
            y = ops.add(y, self.const((1, cout, 1, 1)))
        return self.act(y, act)

    def dw(self, x, k: int = 3, stride: int = 1, act: str | None = "relu", same: bool = False):
        return self.conv(x, channels(x), k, stride, groups=channels(x), act=act, same=same)

    def max_pool(self, x, k: int, stride: int, pad: int = 0, ceil: bool = False, same: bool = False):
        kw = {"auto_pad": "same_upper"} if same else {}
        return ops.max_pool(x, [stride, stride], [1, 1], [pad, pad], [pad, pad], [k, k],
                            "ceil" if ceil else "floor", **kw).output(0)

    def avg_pool(self, x, k: int, stride: int, pad: int = 0, ceil: bool = False):
        return ops.avg_pool(x, [stride, stride], [pad, pad], [pad, pad], [k, k], True, "ceil" if ceil else "floor")

    def gap(self, x, keep: bool = False):
        return ops.reduce_mean(x, self.ints(2, 3), keep_dims=keep)

    def fc(self, x, out: int, act: str | None = None):
        """Fully connected on the last axis (a 4-D input is flattened first)."""
        if len(shape(x)) == 4:
            x = ops.reshape(x, self.ints(1, -1), False)
        y = ops.matmul(x, self.const((out, shape(x)[-1])), False, True)
        y = ops.add(y, self.const([1] * (len(shape(x)) - 1) + [out]))
        return self.act(y, act)

    def classifier(self, x, classes: int = 1000):
        return ops.softmax(self.fc(self.gap(x), classes), -1)

    def concat(self, xs, axis: int = 1):
        return ops.concat(list(xs), axis)

    def lrn(self, x, size: int = 5):
        return ops.lrn(x, self.ints(1), 1e-4, 0.75, 1.0, size)

    def upsample(self, x, factor: int = 2):
        n, c, h, w = shape(x)
        return ops.interpolate(x, self.ints(h * factor, w * factor), "nearest", "sizes",
                               axes=self.ints(2, 3))

    def split_half(self, x):
        """The second half of the channels (Darknet ``route groups=2 group_id=1``)."""
        return ops.split(x, self.axis(1), 2).output(1)

    def se(self, x, squeeze: int, gate: str = "sigmoid", inner: str = "relu"):
        """Squeeze-and-excitation: global pool, two 1x1 convolutions, channel-wise gate."""
        s = self.conv(self.gap(x, keep=True), squeeze, 1, act=inner)
        s = self.conv(s, channels(x), 1, act=gate)
        return ops.multiply(x, s)

    def ssd_output(self, locs, confs, classes: int):
        """SSD tail: per-level permute + flatten, concat, softmax over classes, DetectionOutput (NMS)."""
        def flat(t):
            return ops.reshape(ops.transpose(t, self.ints(0, 2, 3, 1)), self.ints(1, -1), False)

        loc = ops.concat([flat(t) for t in locs], 1)
        conf = ops.concat([flat(t) for t in confs], 1)
        conf = ops.reshape(ops.softmax(ops.reshape(conf, self.ints(1, -1, classes), False), 2), self.ints(1, -1), False)
        boxes = shape(loc)[1]
        priors = ops.constant(np.zeros((1, 2, boxes), dtype=np.float32), shared_memory=True)
        attrs = {"background_label_id": 0, "top_k": 100, "variance_encoded_in_target": False,
                 "keep_top_k": [100], "code_type": "caffe.PriorBoxParameter.CENTER_SIZE",
                 "share_location": True, "nms_threshold": 0.45, "confidence_threshold": 0.25,
                 "clip_after_nms": False, "clip_before_nms": False, "decrease_label_id": False,
                 "normalized": True, "input_height": 1, "input_width": 1, "objectness_score": 0.0,
                 "num_classes": classes}
        return ops8.detection_output(loc, conf, priors, attrs)
