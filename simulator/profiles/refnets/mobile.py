"""Depthwise-separable reference networks: MobileNet V1/V2/V3, MnasNet, ShuffleNet V2 1.0x, EfficientNet-B0.

``mobilenet_v1_features`` / ``mobilenet_v2_features`` return the backbone tensors the SSD heads use.
"""

from __future__ import annotations

import openvino as ov
import openvino.opset13 as ops

from simulator.profiles.refnets.builder import Builder, shape

V1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def mobilenet_v1_features(b: Builder, x, same: bool = False) -> list:
    """The 13 depthwise-separable blocks; returns every block output (index 10: conv11, 12: conv13)."""
    x = b.conv(x, 32, 3, 2, same=same)
    outs = []
    for c, s in V1:
        x = b.conv(b.dw(x, 3, s, same=same), c, 1)
        outs.append(x)
    return outs


def mobilenet_v1(size: int = 224, weights: str = "f32") -> ov.Model:
    """MobileNetV1 1.0 (Howard et al. 2017): ~569 M MACs, 4.2 M parameters at 224."""
    b = Builder(weights)
    x = mobilenet_v1_features(b, b.input(size))[-1]
    return b.model(b.classifier(x), "mobilenet_v1")


def mobilenet_v2_features(b: Builder, x, same: bool = False) -> dict[str, object]:
    """MobileNetV2 1.0 body; ``expand13`` is block 13's 576-channel expansion (the SSDLite tap), ``out`` the
    1280-channel final 1x1 convolution."""
    x = b.conv(x, 32, 3, 2, act="relu6", same=same)
    cin, block, taps = 32, 0, {}
    for t, c, n, s in V2:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = b.conv(x, hidden, 1, act="relu6") if t != 1 else x
            if block == 13:
                taps["expand13"] = y
            y = b.conv(b.dw(y, 3, stride, act="relu6", same=same), c, 1, act=None)
            x = ops.add(x, y) if stride == 1 and cin == c else y
            cin, block = c, block + 1
    taps["out"] = b.conv(x, 1280, 1, act="relu6")
    return taps


def mobilenet_v2(size: int = 224, weights: str = "f32") -> ov.Model:
    """MobileNetV2 1.0 (Sandler et al. 2018): ~300 M MACs, 3.5 M parameters at 224."""
    b = Builder(weights)
    x = mobilenet_v2_features(b, b.input(size))["out"]
    return b.model(b.classifier(x), "mobilenet_v2")


def _shuffle(b: Builder, x, groups: int = 2):
    n, c, h, w = shape(x)
    y = ops.reshape(x, b.ints(n, groups, c // groups, h, w), False)
    y = ops.transpose(y, b.ints(0, 2, 1, 3, 4))
    return ops.reshape(y, b.ints(n, c, h, w), False)


def shufflenet_v2(size: int = 224, weights: str = "f32") -> ov.Model:
    """ShuffleNet V2 1.0x (Ma et al. 2018): channel split, branch, concat, channel shuffle; 146 M MACs."""
    b = Builder(weights)
    x = b.max_pool(b.conv(b.input(size), 24, 3, 2), 3, 2, 1)
    for c, n in [(116, 4), (232, 8), (464, 4)]:
        for i in range(n):
            if i == 0:
                left = b.conv(b.dw(x, 3, 2, act=None), c // 2, 1)
                right = b.conv(b.dw(b.conv(x, c // 2, 1), 3, 2, act=None), c // 2, 1)
            else:
                parts = ops.split(x, b.axis(1), 2)
                left = parts.output(0)
                right = b.conv(b.dw(b.conv(parts.output(1), c // 2, 1), 3, 1, act=None), c // 2, 1)
            x = _shuffle(b, b.concat([left, right]))
    x = b.conv(x, 1024, 1)
    return b.model(b.classifier(x), "shufflenet_v2")


def efficientnet_b0(size: int = 224, weights: str = "f32") -> ov.Model:
    """EfficientNet-B0 (Tan & Le 2019): MBConv blocks with squeeze-and-excitation and swish; 0.39 G MACs."""
    b = Builder(weights)
    x = b.conv(b.input(size), 32, 3, 2, act="swish")
    cin = 32
    for e, c, n, s, k in [(1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3),
                          (6, 112, 3, 1, 5), (6, 192, 4, 2, 5), (6, 320, 1, 1, 3)]:
        for i in range(n):
            stride = s if i == 0 else 1
            y = b.conv(x, cin * e, 1, act="swish") if e != 1 else x
            y = b.dw(y, k, stride, act="swish")
            y = b.se(y, max(1, cin // 4), inner="swish")
            y = b.conv(y, c, 1, act=None)
            x = ops.add(x, y) if stride == 1 and cin == c else y
            cin = c
    x = b.conv(x, 1280, 1, act="swish")
    return b.model(b.classifier(x), "efficientnet_b0")


# MnasNet 1.0 as ncnn's benchmark/mnasnet.param: (expansion, kernel, stride, channels, repeats); ReLU, no SE
MNAS = [(3, 3, 2, 24, 3), (3, 5, 2, 40, 3), (6, 5, 2, 80, 3), (6, 3, 1, 96, 2), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


def mnasnet(size: int = 224, weights: str = "f32") -> ov.Model:
    """MnasNet 1.0 (Tan et al. 2019) as ncnn's benchmark model: inverted residuals without SE; 0.31 G MACs."""
    b = Builder(weights)
    x = b.conv(b.dw(b.conv(b.input(size), 32, 3, 2), 3), 16, 1, act=None)
    cin = 16
    for e, k, s, c, n in MNAS:
        for i in range(n):
            stride = s if i == 0 else 1
            y = b.conv(b.dw(b.conv(x, cin * e, 1), k, stride), c, 1, act=None)
            x = ops.add(x, y) if stride == 1 and cin == c else y
            cin = c
    x = b.conv(x, 1280, 1)
    return b.model(b.classifier(x), "mnasnet")


# MobileNetV3-Large as ncnn's benchmark/mobilenet_v3.param: (expanded, kernel, stride, channels, SE, activation);
# in the SE blocks the activation follows the SE gate (hard sigmoid), as the param file has it
V3 = [(16, 3, 1, 16, False, "relu"), (64, 3, 2, 24, False, "relu"), (72, 3, 1, 24, False, "relu"),
      (72, 5, 2, 40, True, "relu"), (120, 5, 1, 40, True, "relu"), (120, 5, 1, 40, True, "relu"),
      (240, 3, 2, 80, False, "hswish"), (200, 3, 1, 80, False, "hswish"), (184, 3, 1, 80, False, "hswish"),
      (184, 3, 1, 80, False, "hswish"), (480, 3, 1, 112, True, "hswish"), (672, 3, 1, 112, True, "hswish"),
      (672, 5, 1, 160, True, "hswish"), (672, 5, 2, 160, True, "hswish"), (960, 5, 1, 160, True, "hswish")]


def mobilenet_v3(size: int = 224, weights: str = "f32") -> ov.Model:
    """MobileNetV3-Large (Howard et al. 2019) as ncnn's benchmark model; 0.22 G MACs, 5.5 M parameters."""
    b = Builder(weights)
    x = b.conv(b.input(size), 16, 3, 2, act="hswish")
    cin = 16
    for hidden, k, s, c, se, act in V3:
        y = b.conv(x, hidden, 1, act=act) if hidden != cin else x
        if se:
            y = b.act(b.se(b.dw(y, k, s, act=None), hidden // 4, gate="hsigmoid"), act)
        else:
            y = b.dw(y, k, s, act=act)
        y = b.conv(y, c, 1, act=None)
        x = ops.add(x, y) if s == 1 and cin == c else y
        cin = c
    x = b.act(b.gap(b.conv(x, 960, 1, act="hswish")), "hswish")
    return b.model(ops.softmax(b.fc(b.fc(x, 1280, "hswish"), 1000), -1), "mobilenet_v3")
