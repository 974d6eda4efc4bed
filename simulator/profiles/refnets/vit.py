"""Vision Transformer reference network (Dosovitskiy et al. 2021), as ncnn's benchmark model: ViT-B/32 at 384.

Patch embedding (32x32 stride-32 convolution, 768 channels) -> 145 tokens -> 12 encoder layers (LayerNorm,
12-head self-attention, LayerNorm, 3072-wide GELU MLP) -> LayerNorm -> 1000-way classifier; 12.7 G MACs.
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from simulator.profiles.refnets.builder import Builder


def _layer_norm(b: Builder, x, dim: int):
    y = ops.mvn(x, b.ints(-1), True, 1e-6, "inside_sqrt")
    return ops.add(ops.multiply(y, b.const((dim,))), b.const((dim,)))


def vit_b32(size: int = 384, weights: str = "f32", dim: int = 768, depth: int = 12, heads: int = 12,
            mlp: int = 3072) -> ov.Model:
    b = Builder(weights)
    x = b.conv(b.input(size), dim, 32, 32, pad=0, act=None)
    tokens = (size // 32) ** 2 + 1
    x = ops.transpose(ops.reshape(x, b.ints(1, dim, -1), False), b.ints(0, 2, 1))
    x = ops.concat([b.const((1, 1, dim)), x], 1)
    x = ops.add(x, b.const((1, tokens, dim)))
    hd = dim // heads
    scale = ops.constant(np.float32(hd ** -0.5))
    for _ in range(depth):
        h = _layer_norm(b, x, dim)
        q, k, v = (ops.transpose(ops.reshape(b.fc(h, dim), b.ints(1, tokens, heads, hd), False), b.ints(0, 2, 1, 3))
                   for _ in range(3))
        att = ops.softmax(ops.multiply(ops.matmul(q, k, False, True), scale), -1)
        o = ops.reshape(ops.transpose(ops.matmul(att, v, False, False), b.ints(0, 2, 1, 3)),
                        b.ints(1, tokens, dim), False)
        x = ops.add(x, b.fc(o, dim))
        x = ops.add(x, b.fc(b.fc(_layer_norm(b, x, dim), mlp, "gelu"), dim))
    cls = ops.gather(_layer_norm(b, x, dim), b.ints(0), 1)
    return b.model(ops.softmax(b.fc(cls, 1000), -1), "vit_b32")
