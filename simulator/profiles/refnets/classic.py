"""Dense-convolution reference networks: ResNet-18/50, VGG-16, AlexNet, GoogLeNet, Inception v3, DenseNet-121,
SqueezeNet 1.1.

Architectures as published (and as the benchmark model files of the figures define them)::

    resnet50(stride_in_1x1=True)    # Caffe ResNet-50 (ncnn's benchmark); False: torchvision v1.5 (OMZ)
"""

from __future__ import annotations

import openvino as ov
import openvino.opset13 as ops

from simulator.profiles.refnets.builder import Builder, channels


def resnet18(size: int = 224, weights: str = "f32") -> ov.Model:
    """ResNet-18 (He et al. 2016): ~1.82 G MACs, 11.7 M parameters at 224."""
    b = Builder(weights)
    x = b.conv(b.input(size), 64, 7, 2)
    x = b.max_pool(x, 3, 2, 1)
    cin = 64
    for c, s in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for i in range(2):
            stride = s if i == 0 else 1
            y = b.conv(b.conv(x, c, 3, stride), c, 3, 1, act=None)
            shortcut = b.conv(x, c, 1, stride, act=None) if (stride != 1 or cin != c) else x
            x = ops.relu(ops.add(y, shortcut))
            cin = c
    return b.model(b.classifier(x), "resnet18")


def resnet50(size: int = 224, weights: str = "f32", stride_in_1x1: bool = True) -> ov.Model:
    """ResNet-50: bottleneck blocks (1x1, 3x3, 1x1). ``stride_in_1x1``: the original (Caffe) placement of the
    stride, 3.86 G MACs; False: the stride on the 3x3 (torchvision v1.5), 4.1 G MACs."""
    b = Builder(weights)
    x = b.conv(b.input(size), 64, 7, 2)
    x = b.max_pool(x, 3, 2, 0 if stride_in_1x1 else 1, ceil=stride_in_1x1)
    for c, n, s in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        for i in range(n):
            stride = s if i == 0 else 1
            s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
            y = b.conv(b.conv(b.conv(x, c, 1, s1), c, 3, s3), 4 * c, 1, act=None)
            shortcut = b.conv(x, 4 * c, 1, stride, act=None) if i == 0 else x
            x = ops.relu(ops.add(y, shortcut))
    return b.model(b.classifier(x), "resnet50")


def vgg16(size: int = 224, weights: str = "f32") -> ov.Model:
    """VGG-16 (Simonyan & Zisserman 2014): 13 3x3 convolutions, three fully connected layers; 15.5 G MACs."""
    b = Builder(weights)
    x = b.input(size)
    for c, n in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        for _ in range(n):
            x = b.conv(x, c, 3)
        x = b.max_pool(x, 2, 2)
    x = b.fc(b.fc(x, 4096, "relu"), 4096, "relu")
    return b.model(ops.softmax(b.fc(x, 1000), -1), "vgg16")


def alexnet(size: int = 227, weights: str = "f32") -> ov.Model:
    """AlexNet as in Caffe's bvlc_alexnet: grouped conv2/4/5, LRN; 0.72 G MACs, 61 M parameters."""
    b = Builder(weights)
    x = b.max_pool(b.lrn(b.conv(b.input(size), 96, 11, 4, pad=0)), 3, 2, ceil=True)
    x = b.max_pool(b.lrn(b.conv(x, 256, 5, groups=2)), 3, 2, ceil=True)
    x = b.conv(b.conv(b.conv(x, 384, 3), 384, 3, groups=2), 256, 3, groups=2)
    x = b.max_pool(x, 3, 2, ceil=True)
    x = b.fc(b.fc(x, 4096, "relu"), 4096, "relu")
    return b.model(ops.softmax(b.fc(x, 1000), -1), "alexnet")


def googlenet(size: int = 224, weights: str = "f32") -> ov.Model:
    """GoogLeNet / Inception v1 as in Caffe's bvlc_googlenet (nine inception modules, LRN); 1.6 G MACs."""
    b = Builder(weights)

    def inception(x, c1, c3r, c3, c5r, c5, cp):
        branches = [b.conv(x, c1, 1), b.conv(b.conv(x, c3r, 1), c3, 3), b.conv(b.conv(x, c5r, 1), c5, 5),
                    b.conv(b.max_pool(x, 3, 1, 1), cp, 1)]
        return b.concat(branches)

    x = b.max_pool(b.conv(b.input(size), 64, 7, 2), 3, 2, ceil=True)
    x = b.conv(b.conv(b.lrn(x), 64, 1), 192, 3)
    x = b.max_pool(b.lrn(x), 3, 2, ceil=True)
    x = inception(inception(x, 64, 96, 128, 16, 32, 32), 128, 128, 192, 32, 96, 64)
    x = b.max_pool(x, 3, 2, ceil=True)
    for cfg in [(192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
                (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)]:
        x = inception(x, *cfg)
    x = b.max_pool(x, 3, 2, ceil=True)
    x = inception(inception(x, 256, 160, 320, 32, 128, 128), 384, 192, 384, 48, 128, 128)
    return b.model(b.classifier(x), "googlenet")


def inception_v3(size: int = 299, weights: str = "f32", classes: int = 1001) -> ov.Model:
    """Inception v3 (Szegedy et al. 2016) as TF-slim / Open Model Zoo ``inception-v3-tf`` (no auxiliary head,
    1001 classes): factorised 1x7/7x1 and 1x3/3x1 convolutions; 5.7 G MACs, 23.8 M parameters."""
    b = Builder(weights)

    def conv(x, cout, kh, kw=None, stride=1, pad=True):
        kw = kw or kh
        w = b.const((cout, channels(x), kh, kw))
        p = [kh // 2, kw // 2] if pad else [0, 0]
        y = ops.convolution(x, w, [stride, stride], p, p, [1, 1])
        return ops.relu(ops.add(y, b.const((1, cout, 1, 1))))

    def avg(x):
        return b.avg_pool(x, 3, 1, 1)

    def block_a(x, pool):
        return b.concat([conv(x, 64, 1), conv(conv(x, 48, 1), 64, 5), conv(conv(conv(x, 64, 1), 96, 3), 96, 3),
                         conv(avg(x), pool, 1)])

    def block_c(x, c7):
        y = conv(conv(conv(x, c7, 1), c7, 1, 7), 192, 7, 1)
        z = conv(conv(conv(conv(conv(x, c7, 1), c7, 7, 1), c7, 1, 7), c7, 7, 1), 192, 1, 7)
        return b.concat([conv(x, 192, 1), y, z, conv(avg(x), 192, 1)])

    def block_e(x):
        y = conv(x, 384, 1)
        z = conv(conv(x, 448, 1), 384, 3)
        return b.concat([conv(x, 320, 1), conv(y, 384, 1, 3), conv(y, 384, 3, 1), conv(z, 384, 1, 3),
                         conv(z, 384, 3, 1), conv(avg(x), 192, 1)])

    x = conv(conv(conv(b.input(size), 32, 3, stride=2, pad=False), 32, 3, pad=False), 64, 3)
    x = conv(conv(b.max_pool(x, 3, 2), 80, 1), 192, 3, pad=False)
    x = b.max_pool(x, 3, 2)
    x = block_a(block_a(block_a(x, 32), 64), 64)
    x = b.concat([conv(x, 384, 3, stride=2, pad=False),
                  conv(conv(conv(x, 64, 1), 96, 3), 96, 3, stride=2, pad=False), b.max_pool(x, 3, 2)])
    for c7 in (128, 160, 160, 192):
        x = block_c(x, c7)
    x = b.concat([conv(conv(x, 192, 1), 320, 3, stride=2, pad=False),
                  conv(conv(conv(conv(x, 192, 1), 192, 1, 7), 192, 7, 1), 192, 3, stride=2, pad=False),
                  b.max_pool(x, 3, 2)])
    x = block_e(block_e(x))
    return b.model(b.classifier(x, classes), "inception_v3")


def densenet121(size: int = 224, weights: str = "f32") -> ov.Model:
    """DenseNet-121 (Huang et al. 2017), Keras layout: pre-activation (BN-ReLU) dense layers that concatenate
    their 32 new channels onto the block's tensor; 2.9 G MACs, 8 M parameters."""
    b = Builder(weights)

    def bn_relu(x):
        return ops.relu(ops.add(ops.multiply(x, b.const((1, channels(x), 1, 1))), b.const((1, channels(x), 1, 1))))

    x = b.max_pool(b.conv(b.input(size), 64, 7, 2), 3, 2, 1)
    for i, n in enumerate((6, 12, 24, 16)):
        for _ in range(n):
            y = b.conv(b.conv(bn_relu(x), 128, 1, bias=False), 32, 3, act=None, bias=False)
            x = b.concat([x, y])
        if i < 3:
            x = b.avg_pool(b.conv(bn_relu(x), channels(x) // 2, 1, act=None, bias=False), 2, 2)
    return b.model(b.classifier(bn_relu(x)), "densenet121")


def fire(b: Builder, x, squeeze: int, expand: int):
    """SqueezeNet fire module: 1x1 squeeze, then 1x1 and 3x3 expand concatenated."""
    s = b.conv(x, squeeze, 1)
    return b.concat([b.conv(s, expand, 1), b.conv(s, expand, 3)])


def squeezenet(size: int = 227, weights: str = "f32") -> ov.Model:
    """SqueezeNet 1.1 (Iandola et al. 2016): eight fire modules; 0.35 G MACs, 1.2 M parameters."""
    b = Builder(weights)
    x = b.max_pool(b.conv(b.input(size), 64, 3, 2, pad=0), 3, 2, ceil=True)
    x = b.max_pool(fire(b, fire(b, x, 16, 64), 16, 64), 3, 2, ceil=True)
    x = b.max_pool(fire(b, fire(b, x, 32, 128), 32, 128), 3, 2, ceil=True)
    for sq, ex in [(48, 192), (48, 192), (64, 256), (64, 256)]:
        x = fire(b, x, sq, ex)
    x = b.conv(x, 1000, 1)
    return b.model(ops.softmax(b.gap(x), -1), "squeezenet")
