"""The face-detection sample's SSD (``mxnet_deploy_ssd_FP16_FUSED.xml``), answered by MediaPipe's short-range
BlazeFace reported as a one-class SSD (label 1 = face).

BlazeFace gives 896 anchor-relative boxes (16 values each: box centre, size, 6 keypoints) and a logit per
anchor. The anchors and the decoding follow MediaPipe's face_detection_short_range graph (SsdAnchorsCalculator
and TensorsToDetectionsCalculator options); overlapping boxes are merged by weighted non-maximum suppression.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .base import SSD_ROWS, SubstituteModel, ssd_output

INPUT_SIZE = 128
STRIDES = (8, 16, 16, 16)  # four anchor layers; layers with the same stride share one grid
SCALE = 128.0               # x/y/w/h scale of the regressors
SCORE_CLIP = 100.0


@lru_cache(maxsize=4)
def anchors(input_size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """Anchor centres (x, y), normalised, in the model's output order: [896, 2] for the short-range model.

    fixed_anchor_size is true, so every anchor is 1 x 1 and only the centres matter; each layer contributes
    two anchors per cell (aspect ratio 1 plus the interpolated scale)."""
    centres = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = 2 * (j - i)
        cells = -(-input_size // strides[i])  # ceil
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(grid, per_cell, axis=0))
        i = j
    return np.concatenate(centres).astype(np.float32)


def decode(regressors: np.ndarray, logits: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (xmin, ymin, xmax, ymax, normalised) and scores of the anchors scoring at least ``min_score``."""
    reg: np.ndarray = regressors.reshape(-1, 16)
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
    keep = scores >= min_score
    reg, scores = reg[keep], scores[keep]
    centre = anchors()[: len(keep)][keep]
    cx = reg[:, 0] / SCALE + centre[:, 0]
    cy = reg[:, 1] / SCALE + centre[:, 1]
    w = reg[:, 2] / SCALE
    h = reg[:, 3] / SCALE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes.astype(np.float32), scores.astype(np.float32)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box against many (xmin, ymin, xmax, ymax)."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float = 0.3,
        weighted: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Non-maximum suppression. Weighted (MediaPipe's WEIGHTED): each kept box is the score-weighted mean of
    the boxes it suppresses, with the best score; plain: the best box is kept as it is."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    out_boxes, out_scores = [], []
    while len(scores):
        overlap = iou(boxes[0], boxes) > threshold
        overlap[0] = True
        if weighted:
            w = scores[overlap][:, None]
            out_boxes.append((boxes[overlap] * w).sum(axis=0) / w.sum())
        else:
            out_boxes.append(boxes[0])
        out_scores.append(scores[0])
        boxes, scores = boxes[~overlap], scores[~overlap]
    if not out_scores:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    return np.asarray(out_boxes, np.float32), np.asarray(out_scores, np.float32)


class FaceSsdFromBlazeFace(SubstituteModel):
    """A 300x300 one-class SSD (label 1 = face) whose output is the DetectionOutput [1, 1, 100, 7]."""

    output_name = "detection"
    output_shape = (1, 1, SSD_ROWS, 7)
    min_score = 0.5       # MediaPipe's threshold: below it BlazeFace reports non-faces
    nms_threshold = 0.3

    def __init__(self, name: str, core, device: str, config: dict, input_hw=(300, 300)):
        super().__init__(name, input_hw, "blazeface-short", core, device, config)
        names = [set(o.get_names()) for o in self.graph.outputs]
        self._reg = next(i for i, n in enumerate(names) if "regressors" in n)
        self._cls = next(i for i, n in enumerate(names) if "classificators" in n)

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        # The Lambda squeezed the frame to 300x300 already; squeezing it again to 128x128 keeps boxes normalised
        # to the frame it passed.
        return (self.rgb(frame).astype(np.float32) / 127.5 - 1.0)[None]

    def _answer(self, outputs: list[np.ndarray]) -> np.ndarray:
        boxes, scores = decode(outputs[self._reg], outputs[self._cls], self.min_score)
        boxes, scores = nms(boxes, scores, self.nms_threshold, weighted=True)
        return ssd_output(np.ones(len(scores)), scores, boxes)
