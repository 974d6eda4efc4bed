"""Compact classification backbones of ncnn's benchmark: ShuffleNet V1, ProxylessNAS (mobile), RegNetY-400MF,
EfficientNetV2-B0 and the BlazeFace backbone.

Each reproduces the layers of the benchmark's param file (``benchmark/<name>.param`` of Tencent/ncnn): channels,
kernels, strides, groups and the per-channel operations between them.
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from simulator.profiles.refnets.builder import Builder, channels, shape
from simulator.profiles.refnets.mobile import _shuffle


def shufflenet_v1(size: int = 224, weights: str = "f32") -> ov.Model:
    """ShuffleNet V1 1.0x, 3 groups (Zhang et al. 2017) as ``benchmark/shufflenet.param``: stages of 240/480/960
    channels; grouped 1x1 convolutions, channel shuffle, strided units concatenate an average-pooled shortcut."""
    b = Builder(weights)
    x = b.max_pool(b.conv(b.input(size), 24, 3, 2), 3, 2, ceil=True)
    for out, n in [(240, 4), (480, 8), (960, 4)]:
        for i in range(n):
            cin = channels(x)
            if i == 0:
                branch = out - cin
                mid = branch // 4 if cin != 24 else 54  # the first unit's squeeze is dense (24 -> 54)
                y = b.conv(x, mid, 1, groups=1 if cin == 24 else 3)
                if cin != 24:
                    y = _shuffle(b, y, 3)
                y = b.conv(b.dw(y, 3, 2, act=None), branch, 1, groups=3, act=None)
                x = ops.relu(b.concat([b.avg_pool(x, 3, 2, ceil=True), y]))
            else:
                y = _shuffle(b, b.conv(x, out // 4, 1, groups=3), 3)
                y = b.conv(b.dw(y, 3, 1, act=None), out, 1, groups=3, act=None)
                x = ops.relu(ops.add(x, y))
    x = b.conv(b.gap(x, keep=True), 1000, 1, act=None)
    return b.model(ops.softmax(ops.reshape(x, b.ints(1, -1), False), -1), "shufflenet_v1")


def _inverted(b: Builder, x, hidden: int, k: int, stride: int, out: int, act: str = "relu"):
    """Inverted residual: 1x1 expansion (skipped when ``hidden`` equals the input), k x k depthwise, linear 1x1."""
    cin = channels(x)
    y = b.conv(x, hidden, 1, act=act) if hidden != cin else x
    y = b.conv(b.dw(y, k, stride, act=act), out, 1, act=None)
    return ops.add(x, y) if stride == 1 and cin == out else y


# ProxylessNAS (mobile) as benchmark/proxylessnasnet.param: (expanded channels, kernel, stride, output channels)
PROXYLESS = [(48, 5, 2, 32), (96, 3, 1, 32),
             (96, 7, 2, 40), (120, 3, 1, 40), (120, 5, 1, 40), (120, 5, 1, 40),
             (240, 7, 2, 80), (240, 5, 1, 80), (240, 5, 1, 80), (240, 5, 1, 80),
             (480, 5, 1, 96), (288, 5, 1, 96), (288, 5, 1, 96), (288, 5, 1, 96),
             (576, 7, 2, 192), (1152, 7, 1, 192), (576, 7, 1, 192), (576, 7, 1, 192),
             (1152, 7, 1, 320)]


def proxylessnas(size: int = 224, weights: str = "f32") -> ov.Model:
    """ProxylessNAS (mobile) (Cai et al. 2019): searched inverted residuals with 3/5/7 kernels; 0.32 G MACs."""
    b = Builder(weights)
    x = b.conv(b.input(size), 32, 3, 2)
    x = b.conv(b.dw(x, 3), 32, 1, act=None)
    for hidden, k, s, out in PROXYLESS:
        x = _inverted(b, x, hidden, k, s, out)
    return b.model(b.classifier(b.conv(x, 1280, 1)), "proxylessnas")


def regnety_400m(size: int = 224, weights: str = "f32") -> ov.Model:
    """RegNetY-400MF (Radosavovic et al. 2020): widths 48/104/208/440, depths 1/3/6/6, group width 8, SE at a
    quarter of the block's input width; 0.40 G MACs, 4.3 M parameters."""
    b = Builder(weights)
    x = b.conv(b.input(size), 32, 3, 2)
    for width, depth in [(48, 1), (104, 3), (208, 6), (440, 6)]:
        for i in range(depth):
            stride, cin = (2 if i == 0 else 1), channels(x)
            y = b.conv(b.conv(x, width, 1), width, 3, stride, groups=width // 8)
            y = b.conv(b.se(y, cin // 4), width, 1, act=None)
            shortcut = b.conv(x, width, 1, stride, act=None) if i == 0 else x
            x = ops.relu(ops.add(shortcut, y))
    return b.model(b.classifier(x), "regnety_400m")


def efficientnetv2_b0(size: int = 224, weights: str = "f32") -> ov.Model:
    """EfficientNetV2-B0 (Tan & Le 2021) as ``benchmark/efficientnetv2_b0.param``: fused-MBConv stages (3x3
    expansion + 1x1), then MBConv with SE and swish; every residual is followed by a per-channel scale;
    0.72 G MACs, 7.1 M parameters."""
    b = Builder(weights)
    x = b.conv(b.input(size), 32, 3, 2, act="swish")
    x = b.conv(x, 16, 3, act="swish")  # fused-MBConv, expansion 1
    for e, c, n, s, fused in [(4, 32, 2, 2, True), (4, 48, 2, 2, True), (4, 96, 3, 2, False),
                              (6, 112, 5, 1, False), (6, 192, 8, 2, False)]:
        for i in range(n):
            stride, cin = (s if i == 0 else 1), channels(x)
            if fused:
                y = b.conv(b.conv(x, cin * e, 3, stride, act="swish"), c, 1, act=None)
            else:
                y = b.dw(b.conv(x, cin * e, 1, act="swish"), 3, stride, act="swish")
                y = b.conv(b.se(y, cin // 4, inner="swish"), c, 1, act=None)
            if stride == 1 and cin == c:
                y = ops.multiply(ops.add(x, y), b.const((1, c, 1, 1)))
            x = y
    return b.model(b.classifier(b.conv(x, 1280, 1, act="swish")), "efficientnetv2_b0")


def _pad(x, top_left: int, bottom_right: int, extra_channels: int = 0):
    begin = np.array([0, 0, top_left, top_left], dtype=np.int64)
    end = np.array([0, extra_channels, bottom_right, bottom_right], dtype=np.int64)
    return ops.pad(x, ops.constant(begin), ops.constant(end), "constant", ops.constant(np.float32(0)))


# BlazeFace backbone: (output channels, stride) of its BlazeBlocks
BLAZE = [(24, 1), (28, 1), (32, 2), (36, 1), (42, 1), (48, 2), (56, 1), (64, 1), (72, 1), (80, 1), (88, 1),
         (96, 2), (96, 1), (96, 1), (96, 1), (96, 1)]


def blazeface(size: int = 128, weights: str = "f32") -> ov.Model:
    """BlazeFace (front camera, 128x128; Bazarevsky et al. 2019) backbone as ``benchmark/blazeface.param``:
    5x5 stem, BlazeBlocks (3x3 depthwise + 1x1, max-pooled and zero-channel-padded shortcut) down to 8x8x96."""
    b = Builder(weights)
    x = b.conv(_pad(b.input(size), 1, 2), 24, 5, 2, pad=0)
    for out, stride in BLAZE:
        cin = channels(x)
        if stride == 2:
            y = b.conv(_pad(x, 0, 2), cin, 3, 2, groups=cin, pad=0, act=None)
            x = b.max_pool(x, 2, 2)
        else:
            y = b.dw(x, 3, 1, act=None)
        y = b.conv(y, out, 1, act=None)
        if out != cin:
            x = _pad(x, 0, 0, out - cin)
        x = ops.relu(ops.add(y, x))
    assert shape(x) == [1, 96, size // 16, size // 16]
    return b.model(x, "blazeface")
