"""SSD's ``_contrib_MultiBoxPrior`` and ``_contrib_MultiBoxDetection``, with MXNet's semantics
(src/operator/contrib/multibox_prior.cc, multibox_detection.cc).

Prior: per feature-map cell (row-major), first one box per size (ratio 1), then one per extra ratio at
``sizes[0]``; width ``size * H / W * sqrt(ratio) / 2`` either side of the centre, height ``size / sqrt(ratio) / 2``;
centres at ``(i + offset) * step`` (step ``1 / H``, ``1 / W`` when not given); clipped to [0, 1] if ``clip``.
Output ``[1, H * W * (sizes + ratios - 1), 4]`` (xmin, ymin, xmax, ymax), a constant for a fixed input size.

Detection: per anchor the best non-background class (class 0 is the background) and its score; anchors scoring
below ``threshold`` are dropped; boxes are decoded with ``variances`` (centre offsets scaled by the anchor size,
exponential width/height) and clipped if ``clip``. The kept anchors are sorted by score (stable), only the first
``nms_topk`` take part (if > 0), and greedy NMS suppresses a box overlapping a higher-scoring one of the same
class (any class with ``force_suppress``) by IoU >= ``nms_threshold``. Output ``[batch, anchors, 6]`` rows
``(class_id, score, xmin, ymin, xmax, ymax)``: sorted rows first, class_id -1 for suppressed rows, all -1 past the
kept anchors. ``device_rows`` turns that into the rows DeepLens' model optimizer produced (``DetectionOutput``):
``[1, 1, batch * anchors, 7]`` = ``(image, class_id + 1, score, xmin, ymin, xmax, ymax)``, detections first,
then rows with image -1.
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from simulator.inference.mxnet.convert import Converter, NodeContext, axes_const, const

_NEG = -3.0e38


def prior_boxes(height: int, width: int, sizes, ratios, steps, offsets, clip: bool) -> np.ndarray:
    """MultiBoxPrior's anchors for a ``height × width`` feature map: ``[1, N, 4]`` float32."""
    step_y, step_x = steps
    if step_y <= 0 or step_x <= 0:
        step_y, step_x = 1.0 / height, 1.0 / width
    cy = (np.arange(height, dtype=np.float32) + np.float32(offsets[0])) * np.float32(step_y)
    cx = (np.arange(width, dtype=np.float32) + np.float32(offsets[1])) * np.float32(step_x)
    half = [(s * height / width / 2, s / 2) for s in sizes]
    half += [(sizes[0] * height / width * np.sqrt(r) / 2, sizes[0] / np.sqrt(r) / 2) for r in ratios[1:]]
    hw = np.asarray(half, dtype=np.float32)  # [A, 2] = (half width, half height)
    cyy, cxx = np.meshgrid(cy, cx, indexing="ij")
    centres = np.stack([cxx, cyy], axis=-1).reshape(-1, 1, 2)  # [H*W, 1, 2]
    boxes = np.concatenate([centres - hw[None], centres + hw[None]], axis=-1).reshape(1, -1, 4)
    return np.clip(boxes, 0.0, 1.0) if clip else boxes.astype(np.float32)


def multibox_prior(ctx: NodeContext):
    a = ctx.attrs
    shape = ctx.shape(0)
    if len(shape) < 4:
        raise ctx.fail(f"needs a 4-D feature map, got shape {shape}")
    sizes, ratios = a.floats("sizes", (1.0,)), a.floats("ratios", (1.0,))
    steps, offsets = a.floats("steps", (-1.0, -1.0)), a.floats("offsets", (0.5, 0.5))
    if not sizes or not ratios or len(steps) != 2 or len(offsets) != 2:
        raise ctx.fail("needs at least one size and ratio, two steps and two offsets")
    return const(prior_boxes(shape[2], shape[3], sizes, ratios, steps, offsets, a.flag("clip", False)))


def _decode(loc, anchors, variances, clip: bool):
    """Boxes ``[B, N, 4]`` from offsets ``[B, N, 4]`` and anchors ``[1, N, 4]`` (TransformLocations)."""
    al, at, ar, ab = ops.split(anchors, 2, 4).outputs()
    px, py, pw, ph = ops.split(loc, 2, 4).outputs()
    aw, ah = ops.subtract(ar, al), ops.subtract(ab, at)
    ax = ops.divide(ops.add(al, ar), const(2.0))
    ay = ops.divide(ops.add(at, ab), const(2.0))
    vx, vy, vw, vh = variances
    ox = ops.add(ops.multiply(ops.multiply(px, const(vx)), aw), ax)
    oy = ops.add(ops.multiply(ops.multiply(py, const(vy)), ah), ay)
    ow = ops.divide(ops.multiply(ops.exp(ops.multiply(pw, const(vw))), aw), const(2.0))
    oh = ops.divide(ops.multiply(ops.exp(ops.multiply(ph, const(vh))), ah), const(2.0))
    boxes = ops.concat([ops.subtract(ox, ow), ops.subtract(oy, oh), ops.add(ox, ow), ops.add(oy, oh)], 2)
    return ops.clamp(boxes, 0.0, 1.0) if clip else boxes


def _order(key, count: int):
    """Indices sorting ``key`` [B, N] descending, ties in index order."""
    return ops.topk(key, const(count, np.int64), 1, "max", "value", "i64", stable=True).output(1)


def _rows(table, index):
    """``table[b, index[b, i]]`` for a [B, N, K] table and [B, N] indices.

    Written as a plain Gather on the flattened table: OpenVINO 2026.4's CPU Gather with ``batch_dims=1``
    crashes or returns wrong rows for such shapes."""
    batch, count, width = (int(d) for d in _output(table).get_partial_shape().to_shape())
    offsets = const(np.arange(batch, dtype=np.int64)[:, None] * count)
    flat_index = ops.reshape(ops.add(index, offsets), axes_const([batch * count]), False)
    flat = ops.reshape(table, axes_const([batch * count, width]), False)
    return ops.reshape(ops.gather(flat, flat_index, 0), axes_const([batch, count, width]), False)


def _output(value):
    return value.output(0) if isinstance(value, ov.Node) else value


def _where_rows(mask, rows, other):
    return ops.select(ops.unsqueeze(mask, axes_const([2])), rows, other)


def multibox_detection(ctx: NodeContext):
    a = ctx.attrs
    cls_shape, loc_shape, anchor_shape = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    if len(cls_shape) != 3 or cls_shape[1] < 2:
        raise ctx.fail(f"class probabilities must be [batch, classes + 1, anchors], got {cls_shape}")
    batch, classes, count = cls_shape
    if loc_shape != (batch, count * 4) or len(anchor_shape) != 3 or anchor_shape[1:] != (count, 4):
        raise ctx.fail(f"inputs disagree: class probabilities {cls_shape}, locations {loc_shape} "
                       f"(expected {(batch, count * 4)}), anchors {anchor_shape} (expected (1, {count}, 4))")
    variances = a.floats("variances", (0.1, 0.1, 0.2, 0.2))
    if len(variances) != 4:
        raise ctx.fail(f"variances {variances} must hold 4 values")
    threshold, nms_threshold = a.number("threshold", 0.01), a.number("nms_threshold", 0.5)
    topk, force = a.integer("nms_topk", -1), a.flag("force_suppress", False)

    foreground = ops.slice(ctx.input(0), axes_const([1]), axes_const([classes]), axes_const([1]), axes_const([1]))
    best = ops.topk(foreground, const(1, np.int64), 1, "max", "value", "i64", stable=True)
    score = ops.squeeze(best.output(0), axes_const([1]))  # [B, N]
    class_id = ops.convert(ops.squeeze(best.output(1), axes_const([1])), "f32")
    valid = ops.logical_and(ops.greater_equal(score, const(threshold)), ops.greater(score, const(-1.0)))
    loc = ops.reshape(ctx.input(1), axes_const([batch, count, 4]), special_zero=False)
    boxes = _decode(loc, ctx.input(2), variances, a.flag("clip", True))
    table = ops.concat([ops.unsqueeze(class_id, axes_const([2])), ops.unsqueeze(score, axes_const([2])), boxes], 2)

    none = const(np.full((1, 1, 6), -1.0, np.float32))
    position = const(np.arange(count, dtype=np.int64)[None])  # [1, N]
    valid_count = ops.reduce_sum(ops.convert(valid, "i64"), axes_const([1]), keep_dims=True)  # [B, 1]
    compact = _rows(table, _order(ops.convert(valid, "f32"), count))  # kept anchors first, in anchor order
    if nms_threshold <= 0 or nms_threshold > 1:  # MXNet skips sorting and NMS
        return _where_rows(ops.less(position, valid_count), compact, none)

    ranked = _rows(table, _order(ops.select(valid, score, const(_NEG)), count))
    keep_count = ops.minimum(valid_count, const(topk, np.int64)) if 0 < topk < count else valid_count
    candidate = ops.less(position, keep_count)  # [B, N], in ranked order
    r_class, r_score, r_boxes = _columns(ranked)
    r_score_masked = ops.select(candidate, r_score, const(_NEG))
    if force:
        scores = ops.unsqueeze(r_score_masked, axes_const([1]))  # [B, 1, N]
    else:
        labels = const(np.arange(classes - 1, dtype=np.float32).reshape(1, -1, 1))
        same = ops.equal(ops.unsqueeze(r_class, axes_const([1])), labels)  # [B, C-1, N]
        scores = ops.select(same, ops.unsqueeze(r_score_masked, axes_const([1])), const(_NEG))
    nms = ops.non_max_suppression(r_boxes, scores, const([count], np.int64), const([nms_threshold]),
                                  const([-1.0e38]), box_encoding="corner", sort_result_descending=False,
                                  output_type="i64")
    picked = ops.slice(nms.output(0), axes_const([0]), ops.reshape(nms.output(2), axes_const([1]), False),
                       axes_const([1]), axes_const([0]))
    where = ops.gather(picked, axes_const([0, 2]), 1)  # (batch, box) pairs
    ones = ops.broadcast(const(1.0), ops.gather(ops.shape_of(where), axes_const([0]), 0))
    kept = ops.greater(ops.scatter_nd_update(const(np.zeros((batch, count), np.float32)), where, ones), const(0.5))
    ranked_class = ops.select(ops.logical_and(candidate, kept), r_class, const(-1.0))
    ranked = ops.concat([ops.unsqueeze(ranked_class, axes_const([2])), ops.unsqueeze(r_score, axes_const([2])),
                         r_boxes], 2)
    # rows past the NMS candidates keep their unsorted values with class -1; rows past the kept anchors are -1
    compact_rest = ops.concat([const(np.full((batch, count, 1), -1.0, np.float32)),
                               ops.slice(compact, axes_const([1]), axes_const([6]), axes_const([1]),
                                         axes_const([2]))], 2)
    rows = _where_rows(candidate, ranked, compact_rest)
    return _where_rows(ops.less(position, valid_count), rows, none)


def _columns(table):
    """(class [B, N], score [B, N], boxes [B, N, 4]) of a [B, N, 6] table."""
    def cols(start: int, stop: int):
        return ops.slice(table, axes_const([start]), axes_const([stop]), axes_const([1]), axes_const([2]))

    return ops.squeeze(cols(0, 1), axes_const([2])), ops.squeeze(cols(1, 2), axes_const([2])), cols(2, 6)


def device_rows(detections, batch: int, count: int):
    """MultiBoxDetection's ``[B, N, 6]`` as DetectionOutput rows ``[1, 1, B * N, 7]`` (detections first)."""
    class_id, score, boxes = _columns(detections)
    valid = ops.greater_equal(class_id, const(0.0))
    image = const(np.repeat(np.arange(batch, dtype=np.float32), count).reshape(batch, count))
    rows = ops.concat([ops.unsqueeze(image, axes_const([2])), ops.unsqueeze(ops.add(class_id, const(1.0)),
                                                                              axes_const([2])),
                       ops.unsqueeze(score, axes_const([2])), boxes], 2)
    empty = const(np.array([[[-1, 0, 0, 0, 0, 0, 0]]], np.float32))
    rows = ops.reshape(_where_rows(valid, rows, empty), axes_const([1, batch * count, 7]), False)
    flags = ops.reshape(ops.convert(valid, "f32"), axes_const([1, batch * count]), False)
    ordered = _rows(rows, _order(flags, batch * count))
    return ops.reshape(ordered, axes_const([1, 1, batch * count, 7]), False)


CONVERTERS: dict[str, Converter] = {
    "_contrib_MultiBoxPrior": multibox_prior,
    "MultiBoxPrior": multibox_prior,
    "_contrib_MultiBoxDetection": multibox_detection,
    "MultiBoxDetection": multibox_detection,
}
