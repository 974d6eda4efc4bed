"""Transformer reference networks: ViT-B/32 at 384 (Dosovitskiy et al. 2021, ncnn's benchmark model) and
BERT-base at 124 tokens (Devlin et al. 2019, the model of OpenVINO's ``bert-base-cased[124]`` figures).

ViT-B/32: patch embedding (32x32 stride-32 convolution, 768 channels) -> 145 tokens -> 12 encoder layers (LayerNorm,
12-head self-attention, LayerNorm, 3072-wide GELU MLP) -> LayerNorm -> 1000-way classifier; 12.7 G MACs.
BERT-base: word-embedding lookup (28996 x 768) + position/segment embeddings -> LayerNorm -> 12 post-LayerNorm
encoder layers (masked 12-head self-attention, 3072-wide GELU MLP) -> tanh pooler; 10.9 G MACs at 124 tokens.
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from simulator.profiles.refnets.builder import Builder


def _layer_norm(b: Builder, x, dim: int):
    y = ops.mvn(x, b.ints(-1), True, 1e-6, "inside_sqrt")
    return ops.add(ops.multiply(y, b.const((dim,))), b.const((dim,)))


def _attention(b: Builder, h, tokens: int, dim: int, heads: int, mask=None):
    hd = dim // heads
    scale = ops.constant(np.float32(hd ** -0.5))
    q, k, v = (ops.transpose(ops.reshape(b.fc(h, dim), b.ints(1, tokens, heads, hd), False), b.ints(0, 2, 1, 3))
               for _ in range(3))
    scores = ops.multiply(ops.matmul(q, k, False, True), scale)
    att = ops.softmax(ops.add(scores, mask) if mask is not None else scores, -1)
    o = ops.reshape(ops.transpose(ops.matmul(att, v, False, False), b.ints(0, 2, 1, 3)), b.ints(1, tokens, dim), False)
    return b.fc(o, dim)


def vit_b32(size: int = 384, weights: str = "f32", dim: int = 768, depth: int = 12, heads: int = 12,
            mlp: int = 3072) -> ov.Model:
    b = Builder(weights)
    x = b.conv(b.input(size), dim, 32, 32, pad=0, act=None)
    tokens = (size // 32) ** 2 + 1
    x = ops.transpose(ops.reshape(x, b.ints(1, dim, -1), False), b.ints(0, 2, 1))
    x = ops.concat([b.const((1, 1, dim)), x], 1)
    x = ops.add(x, b.const((1, tokens, dim)))
    for _ in range(depth):
        x = ops.add(x, _attention(b, _layer_norm(b, x, dim), tokens, dim, heads))
        x = ops.add(x, b.fc(b.fc(_layer_norm(b, x, dim), mlp, "gelu"), dim))
    cls = ops.gather(_layer_norm(b, x, dim), b.ints(0), 1)
    return b.model(ops.softmax(b.fc(cls, 1000), -1), "vit_b32")


def bert_base(tokens: int = 124, weights: str = "f32", vocab: int = 28996, dim: int = 768, depth: int = 12,
              heads: int = 12, mlp: int = 3072) -> ov.Model:
    b = Builder(weights)
    ids = ops.parameter([1, tokens], np.int64, name="input_ids")
    mask = ops.parameter([1, 1, 1, tokens], np.float32, name="attention_mask")  # additive: 0 or -10000
    x = ops.gather(b.const((vocab, dim)), ids, b.axis(0))
    x = _layer_norm(b, ops.add(x, b.const((1, tokens, dim))), dim)  # + position and segment embeddings
    for _ in range(depth):
        x = _layer_norm(b, ops.add(x, _attention(b, x, tokens, dim, heads, mask)), dim)
        x = _layer_norm(b, ops.add(x, b.fc(b.fc(x, mlp, "gelu"), dim)), dim)
    pooled = b.fc(ops.gather(x, b.ints(0), 1), dim, "tanh")
    return ov.Model([ops.result(x), ops.result(pooled)], [ids, mask], "bert_base")
