"""Light detectors of ncnn's benchmark, each as its ``benchmark/<name>.param`` of Tencent/ncnn defines it:
MobileNetV2-YOLOv3, NanoDet-m, Yolo-Fastest 1.1, Yolo-FastestV2 and FastestDet.

- ``mobilenetv2_yolov3`` (VOC, 352): MobileNetV2 with ReLU, YOLOv3 heads (3 anchors x 25) at 11x11 and 22x22; the
  11x11 map reaches 22x22 through a 1x1 stride-2 depthwise transposed convolution and a 2x2 max-pool.
- ``nanodet_m`` (COCO, 320): ShuffleNet V2 1.0x with leaky ReLU and no last 1x1 convolution, a PAN of 96 channels
  (bilinear resizes and additions), three shared-structure heads of 80 classes + 32 box-distribution channels.
- ``yolo_fastest_1_1`` (COCO, 320): inverted residuals with leaky ReLU, SPP, two YOLOv3 heads (3 x 85).
- ``yolo_fastest_v2`` (COCO, 352): ShuffleNet V2 stages of 48/96/192 channels, two scales of 5x5 depthwise
  heads: box (3 x 4, sigmoid), objectness (3, sigmoid) and class (80, softmax).
- ``fastestdet`` (COCO, 352): the same backbone, the three scales pooled / upsampled to 22x22 and joined, an SPP of
  chained 5x5 depthwise convolutions and one head: objectness, box and class (softmax).

ncnn's ``Yolov3DetectionOutput`` (sigmoid, anchor decoding and NMS of a few thousand boxes) has no opset13
equivalent; a sigmoid over each head stands for it, as in ``detectors.mobilenet_yolo``.
"""

from __future__ import annotations

import openvino as ov
import openvino.opset13 as ops

from simulator.profiles.refnets.builder import Builder, channels, shape
from simulator.profiles.refnets.mobile import V2, _shuffle


def _resize(b: Builder, x, size: int, mode: str = "nearest"):
    return ops.interpolate(x, b.ints(size, size), mode, "sizes", axes=b.ints(2, 3))


def _shufflenet_v2(b: Builder, x, stages, act: str, shuffle_first: bool) -> list:
    """ShuffleNet V2 stages ``[(channels, units)]``: a stride-2 unit with two branches, then stride-1 units (channel
    split, 1x1 / 3x3 depthwise / 1x1 on the second half, concat). ``shuffle_first``: the channel shuffle opens each
    stride-1 unit (Yolo-FastestV2, FastestDet) instead of closing every unit (NanoDet). Returns each stage's output."""
    outs = []
    for c, n in stages:
        half = c // 2
        for i in range(n):
            if i == 0:
                left = b.conv(b.dw(x, 3, 2, act=None), half, 1, act=act)
                right = b.conv(b.dw(b.conv(x, half, 1, act=act), 3, 2, act=None), half, 1, act=act)
            else:
                parts = ops.split(_shuffle(b, x) if shuffle_first else x, b.axis(1), 2)
                left = parts.output(0)
                right = b.conv(b.dw(b.conv(parts.output(1), half, 1, act=act), 3, 1, act=None), half, 1, act=act)
            x = b.concat([left, right])
            if not shuffle_first:
                x = _shuffle(b, x)
        outs.append(x)
    return outs


def _shufflenet_stem(b: Builder, size: int, act: str):
    return b.max_pool(b.conv(b.input(size), 24, 3, 2, act=act), 3, 2, 1)


def mobilenetv2_yolov3(size: int = 352, weights: str = "f32") -> ov.Model:
    """MobileNetV2-YOLOv3 as ``benchmark/mobilenetv2_yolov3.param``: MobileNetV2 1.0 (ReLU) to 1280 channels, a 3x3
    depthwise + 1x1 576 at 11x11, upsampled (1x1 stride-2 depthwise transposed convolution, 2x2 max-pool) and added
    to a 3x3 depthwise + 1x1 576 of block 13's expansion at 22x22, one more depthwise-separable 576 there; 1x1
    75-channel predictions on both scales."""
    b = Builder(weights)
    x = b.conv(b.input(size), 32, 3, 2)
    cin, block, tap = 32, 0, None
    for t, c, n, s in V2:
        for i in range(n):
            stride = s if i == 0 else 1
            y = b.conv(x, cin * t, 1) if t != 1 else x
            if block == 13:
                tap = y
            y = b.conv(b.dw(y, 3, stride), c, 1, act=None)
            x = ops.add(x, y) if stride == 1 and cin == c else y
            cin, block = c, block + 1
    x11 = b.conv(b.dw(b.conv(x, 1280, 1), 3), 576, 1)
    w = b.const((576, 1, 1, 1, 1))
    up = ops.group_convolution_backprop_data(x11, w, [2, 2], pads_begin=[0, 0], pads_end=[0, 0], dilations=[1, 1])
    up = b.max_pool(up, 2, 1, 1)
    assert shape(up) == shape(tap)
    y = ops.add(up, b.conv(b.dw(tap, 3), 576, 1))
    y = b.conv(b.dw(y, 3), 576, 1)
    outs = [ops.sigmoid(b.conv(t, 75, 1, act=None)) for t in (x11, y)]
    return b.model(outs, "mobilenetv2_yolov3")


def nanodet_m(size: int = 320, weights: str = "f32") -> ov.Model:
    """NanoDet-m as ``benchmark/nanodet_m.param``: ShuffleNet V2 1.0x (leaky ReLU 0.1) at strides 8/16/32, 1x1 96
    laterals, PAN (top-down, then bottom-up, bilinear), per scale two depthwise-separable 96 layers and a 1x1 112
    (80 class scores with sigmoid, 32 box-distribution bins), flattened and transposed."""
    b = Builder(weights)
    c3, c4, c5 = _shufflenet_v2(b, _shufflenet_stem(b, size, "leaky"), [(116, 4), (232, 8), (464, 4)], "leaky",
                                shuffle_first=False)
    p3, p4, p5 = (b.conv(t, 96, 1, act=None) for t in (c3, c4, c5))
    p4 = ops.add(p4, _resize(b, p5, size // 16, "linear_onnx"))
    p3 = ops.add(p3, _resize(b, p4, size // 8, "linear_onnx"))
    p4 = ops.add(p4, _resize(b, p3, size // 16, "linear_onnx"))
    p5 = ops.add(p5, _resize(b, p4, size // 32, "linear_onnx"))
    outs = []
    for p in (p3, p4, p5):
        y = b.conv(b.dw(b.conv(b.dw(p, 3, act="leaky"), 96, 1, act="leaky"), 3, act="leaky"), 96, 1, act="leaky")
        parts = ops.variadic_split(b.conv(y, 112, 1, act=None), b.axis(1), b.ints(80, 32))
        for t, n in ((ops.sigmoid(parts.output(0)), 80), (parts.output(1), 32)):
            outs.append(ops.transpose(ops.reshape(t, b.ints(1, n, -1), False), b.ints(0, 2, 1)))
    return b.model(outs, "nanodet_m")


# Yolo-Fastest 1.1: (expansion, stride, output channels) of the strided block, then (expansion, repeats) of the
# residual blocks that follow it
FASTEST = [(8, 1, 4, 8, 1), (24, 2, 8, 32, 2), (32, 2, 8, 48, 2), (48, 1, 16, 96, 4), (96, 2, 24, 136, 4),
           (136, 2, 48, 224, 5)]


def _block(b: Builder, x, hidden: int, out: int, stride: int = 1):
    """1x1 expansion (leaky), 3x3 depthwise (leaky), linear 1x1; a residual when it keeps the shape."""
    y = b.conv(b.dw(b.conv(x, hidden, 1, act="leaky"), 3, stride, act="leaky"), out, 1, act=None)
    return ops.add(y, x) if stride == 1 and channels(x) == out else y


def _dw5_pair(b: Builder, x, act: str):
    """Twice a 5x5 depthwise (activated) and a linear 1x1 of the same width."""
    for _ in range(2):
        x = b.conv(b.dw(x, 5, act=act), channels(x), 1, act=None)
    return x


def yolo_fastest_1_1(size: int = 320, weights: str = "f32") -> ov.Model:
    """Yolo-Fastest 1.1 as ``benchmark/yolo-fastest-1.1.param``: 3x3 stride-2 8, inverted residual stages down to
    10x10x48, SPP (max-pool 9/5/3), 1x1 96, and per scale two 5x5 depthwise-separable layers and a 1x1 255; the
    second scale concatenates the upsampled 96 with the 20x20x24 stage."""
    b = Builder(weights)
    x = b.conv(b.input(size), 8, 3, 2, act="leaky")
    tap = None
    for hidden, stride, out, res_hidden, n in FASTEST:
        x = _block(b, x, hidden, out, stride)
        for _ in range(n):
            x = _block(b, x, res_hidden, out)
        if shape(x)[2] == size // 16:
            tap = x  # 20x20x24: joined to the second scale
    x = b.conv(b.concat([b.max_pool(x, 9, 1, 4), b.max_pool(x, 5, 1, 2), b.max_pool(x, 3, 1, 1), x]), 96, 1,
               act="leaky")
    y = b.concat([_resize(b, x, size // 16), tap])
    outs = [ops.sigmoid(b.conv(_dw5_pair(b, t, "leaky"), 255, 1, act=None)) for t in (x, y)]
    return b.model(outs, "yolo_fastest_1_1")


def yolo_fastest_v2(size: int = 352, weights: str = "f32") -> ov.Model:
    """Yolo-FastestV2 as ``benchmark/yolo-fastestv2.param``: ShuffleNet V2 of 48/96/192 channels (ReLU); at 11x11 a
    1x1 72 of the last stage, at 22x22 a 1x1 72 of the upsampled last stage joined to the 96-channel one; per scale
    two branches of 5x5 depthwise-separable layers: box (12, sigmoid) from one, objectness (3, sigmoid) and class
    (80, softmax over classes) from the other, concatenated and transposed to channels last."""
    b = Builder(weights)
    _, c4, c5 = _shufflenet_v2(b, _shufflenet_stem(b, size, "relu"), [(48, 4), (96, 8), (192, 4)], "relu",
                               shuffle_first=True)
    p5 = b.conv(c5, 72, 1)
    p4 = b.conv(b.concat([_resize(b, c5, size // 16), c4]), 72, 1)
    outs = []
    for p in (p4, p5):
        obj_cls, box = _dw5_pair(b, p, "relu"), _dw5_pair(b, p, "relu")
        cls = ops.transpose(b.conv(obj_cls, 80, 1, act=None), b.ints(0, 2, 3, 1))
        cls = ops.transpose(ops.softmax(cls, -1), b.ints(0, 3, 1, 2))
        y = b.concat([b.conv(box, 12, 1, act="sigmoid"), b.conv(obj_cls, 3, 1, act="sigmoid"), cls])
        outs.append(ops.transpose(y, b.ints(0, 2, 3, 1)))
    return b.model(outs, "yolo_fastest_v2")


def fastestdet(size: int = 352, weights: str = "f32") -> ov.Model:
    """FastestDet as ``benchmark/FastestDet.param``: the Yolo-FastestV2 backbone; the 44x44 stage average-pooled,
    the 22x22 one and the upsampled 11x11 one concatenated (336), a 1x1 96, an SPP of one, two and three chained
    5x5 depthwise convolutions (concat, linear 1x1 96, residual, ReLU), a 1x1 96, and 5x5 depthwise + 1x1 heads for
    objectness (1, sigmoid), box (4) and class (80, softmax) at 22x22."""
    b = Builder(weights)
    c3, c4, c5 = _shufflenet_v2(b, _shufflenet_stem(b, size, "relu"), [(48, 4), (96, 8), (192, 4)], "relu",
                                shuffle_first=True)
    pooled = ops.avg_pool(c3, [2, 2], [1, 1], [1, 1], [3, 3], False)
    p = b.conv(b.concat([pooled, c4, _resize(b, c5, size // 16)]), 96, 1)
    branches = []
    for depth in (1, 2, 3):
        t = p
        for _ in range(depth):
            t = b.dw(t, 5)
        branches.append(t)
    x = ops.relu(ops.add(p, b.conv(b.concat(branches), 96, 1, act=None)))
    x = b.conv(x, 96, 1)
    obj = b.conv(b.dw(x, 5), 1, 1, act="sigmoid")
    box = b.conv(b.dw(x, 5), 4, 1, act=None)
    cls = ops.softmax(b.conv(b.dw(x, 5), 80, 1, act=None), 1)
    return b.model(b.concat([obj, box, cls]), "fastestdet")
