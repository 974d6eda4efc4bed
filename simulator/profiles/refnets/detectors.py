"""Detection reference networks: SSD heads on SqueezeNet / MobileNet V1 / MobileNetV2 backbones, YOLO-tiny.

- ``squeezenet_ssd``, ``mobilenet_ssd``: the Caffe VOC models (21 classes) of ncnn's benchmark; OpenVINO's
  ``mobilenet-ssd`` is the same MobileNet-SSD.
- ``ssd_mobilenet_v1_coco``, ``ssdlite_mobilenet_v2``: TensorFlow object-detection-zoo models (91 classes,
  SAME padding; SSDLite predicts with depthwise-separable convolutions).
- ``yolov3_tiny``, ``yolov4_tiny``: Darknet models at 416 (80 classes, leaky ReLU).
- ``mobilenet_yolo``: ncnn's benchmark MobileNet-YOLO (VOC, 416): MobileNetV1 body, YOLOv2-style heads on two
  scales, the 13x13 map brought to 26x26 by a depthwise transposed convolution and added to the body's 26x26 map.
"""

from __future__ import annotations

import openvino as ov
import openvino.opset13 as ops

from simulator.profiles.refnets.builder import Builder, channels
from simulator.profiles.refnets.classic import fire
from simulator.profiles.refnets.mobile import mobilenet_v1_features, mobilenet_v2_features


def _heads(b: Builder, taps, anchors, classes: int, k: int, lite: bool = False):
    locs, confs = [], []
    for x, a in zip(taps, anchors, strict=True):
        if lite:
            locs.append(b.conv(b.dw(x, 3, act="relu6", same=True), a * 4, 1, act=None))
            confs.append(b.conv(b.dw(x, 3, act="relu6", same=True), a * classes, 1, act=None))
        else:
            locs.append(b.conv(x, a * 4, k, act=None))
            confs.append(b.conv(x, a * classes, k, act=None))
    return b.ssd_output(locs, confs, classes)


def squeezenet_ssd(size: int = 300, weights: str = "f32") -> ov.Model:
    """SqueezeNet-SSD (VOC): SqueezeNet 1.1 body with two more fire modules, 3x3 SSD heads on six maps."""
    b = Builder(weights)
    x = b.max_pool(b.conv(b.input(size), 64, 3, 2, pad=0), 3, 2, ceil=True)
    x = b.max_pool(fire(b, fire(b, x, 16, 64), 16, 64), 3, 2, ceil=True)
    f5 = fire(b, fire(b, x, 32, 128), 32, 128)
    x = b.max_pool(f5, 3, 2, ceil=True)
    for sq, ex in [(48, 192), (48, 192), (64, 256)]:
        x = fire(b, x, sq, ex)
    f9 = fire(b, x, 64, 256)
    f10 = fire(b, b.max_pool(f9, 3, 2, ceil=True), 96, 384)
    f11 = fire(b, b.max_pool(f10, 3, 2, ceil=True), 96, 384)
    c12 = b.conv(b.conv(f11, 128, 1), 256, 3, 2)
    c13 = b.conv(b.conv(c12, 64, 1), 128, 3, 2)
    f5n = ops.add(ops.multiply(f5, b.const((1, 256, 1, 1))), b.const((1, 256, 1, 1)))  # BatchNorm + Scale
    out = _heads(b, [f5n, f9, f10, f11, c12, c13], [4, 6, 6, 6, 6, 4], 21, 3)
    return b.model(out, "squeezenet_ssd")


def mobilenet_ssd(size: int = 300, weights: str = "f32") -> ov.Model:
    """MobileNet-SSD (VOC, Caffe): MobileNetV1 body, four extra stride-2 stages, 1x1 SSD heads; 1.15 G MACs."""
    b = Builder(weights)
    feats = mobilenet_v1_features(b, b.input(size))
    x, taps = feats[-1], [feats[10], feats[12]]
    for c1, c2 in [(256, 512), (128, 256), (128, 256), (64, 128)]:
        x = b.conv(b.conv(x, c1, 1), c2, 3, 2)
        taps.append(x)
    return b.model(_heads(b, taps, [3, 6, 6, 6, 6, 6], 21, 1), "mobilenet_ssd")


def ssd_mobilenet_v1_coco(size: int = 300, weights: str = "f32") -> ov.Model:
    """SSD MobileNet V1 COCO (TensorFlow zoo): SAME padding, extra layers 512/256/256/128, 1x1 box predictors."""
    b = Builder(weights)
    feats = mobilenet_v1_features(b, b.input(size), same=True)
    x, taps = feats[-1], [feats[10], feats[12]]
    for c1, c2 in [(256, 512), (128, 256), (128, 256), (64, 128)]:
        x = b.conv(b.conv(x, c1, 1, act="relu6"), c2, 3, 2, act="relu6", same=True)
        taps.append(x)
    return b.model(_heads(b, taps, [3, 6, 6, 6, 6, 6], 91, 1), "ssd_mobilenet_v1_coco")


def ssdlite_mobilenet_v2(size: int = 300, weights: str = "f32") -> ov.Model:
    """SSDLite MobileNetV2 COCO (TensorFlow zoo): taps block 13's expansion (576) and the 1280 output; extra
    layers and box predictors are depthwise-separable."""
    b = Builder(weights)
    feats = mobilenet_v2_features(b, b.input(size), same=True)
    x, taps = feats["out"], [feats["expand13"], feats["out"]]
    for c1, c2 in [(256, 512), (128, 256), (128, 256), (64, 128)]:
        x = b.conv(b.dw(b.conv(x, c1, 1, act="relu6"), 3, 2, act="relu6", same=True), c2, 1, act="relu6")
        taps.append(x)
    return b.model(_heads(b, taps, [3, 6, 6, 6, 6, 6], 91, 3, lite=True), "ssdlite_mobilenet_v2")


def _yolo_head(b: Builder, x, classes: int = 80):
    return ops.sigmoid(b.conv(x, 3 * (classes + 5), 1, act=None))


def yolov3_tiny(size: int = 416, weights: str = "f32") -> ov.Model:
    """YOLOv3-tiny (Redmon & Farhadi 2018): seven 3x3 convolutions with max-pooling, two YOLO heads; 2.8 G MACs."""
    b = Builder(weights)
    x = b.input(size)
    for c in (16, 32, 64, 128):
        x = b.max_pool(b.conv(x, c, 3, act="leaky"), 2, 2)
    route = b.conv(x, 256, 3, act="leaky")
    x = b.max_pool(b.conv(b.max_pool(route, 2, 2), 512, 3, act="leaky"), 2, 1, same=True)
    x = b.conv(x, 1024, 3, act="leaky")
    x = b.conv(x, 256, 1, act="leaky")
    out1 = _yolo_head(b, b.conv(x, 512, 3, act="leaky"))
    y = b.concat([b.upsample(b.conv(x, 128, 1, act="leaky")), route])
    out2 = _yolo_head(b, b.conv(y, 256, 3, act="leaky"))
    return b.model([out1, out2], "yolov3_tiny")


def yolov4_tiny(size: int = 416, weights: str = "f32") -> ov.Model:
    """YOLOv4-tiny (Bochkovskiy et al. 2020): CSP blocks with channel split (route groups), two YOLO heads;
    3.45 G MACs."""
    b = Builder(weights)
    x = b.conv(b.conv(b.input(size), 32, 3, 2, act="leaky"), 64, 3, 2, act="leaky")
    for c in (64, 128, 256):
        x = b.conv(x, c, 3, act="leaky")
        y1 = b.conv(b.split_half(x), c // 2, 3, act="leaky")
        y2 = b.conv(y1, c // 2, 3, act="leaky")
        route = b.conv(b.concat([y2, y1]), c, 1, act="leaky")
        x = b.max_pool(b.concat([x, route]), 2, 2)
    x = b.conv(x, 512, 3, act="leaky")
    x = b.conv(x, 256, 1, act="leaky")
    out1 = _yolo_head(b, b.conv(x, 512, 3, act="leaky"))
    y = b.concat([b.upsample(b.conv(x, 128, 1, act="leaky")), route])
    out2 = _yolo_head(b, b.conv(y, 256, 3, act="leaky"))
    return b.model([out1, out2], "yolov4_tiny")


def mobilenet_yolo(size: int = 416, weights: str = "f32") -> ov.Model:
    """MobileNet-YOLO as ``benchmark/mobilenet_yolo.param`` (its all-depthwise revision, the one of the published
    runs; the file's first revision had dense 3x3 1024 layers): MobileNetV1 body, a 3x3 depthwise + 1x1 1024 at
    13x13, a 4x4 stride-2 depthwise transposed convolution (1024 -> 512, groups 512, no bias) up to 26x26 added to
    conv11's output, a 3x3 depthwise + 1x1 1024 there, and a 125-channel (5 anchors x 25) 1x1 prediction on each
    scale; 20 classes; 2.61 G MACs."""
    b = Builder(weights)
    feats = mobilenet_v1_features(b, b.input(size))
    x13 = b.conv(b.dw(feats[-1], 3), 1024, 1)
    groups = 512
    w = b.const((groups, channels(x13) // groups, 1, 4, 4))  # [G, Cin/G, Cout/G, k, k]
    up = ops.group_convolution_backprop_data(x13, w, [2, 2], pads_begin=[1, 1], pads_end=[1, 1], dilations=[1, 1])
    y = b.conv(b.dw(ops.add(feats[10], up), 3), 1024, 1)
    outs = [ops.sigmoid(b.conv(t, 125, 1, act=None)) for t in (x13, y)]
    return b.model(outs, "mobilenet_yolo")
