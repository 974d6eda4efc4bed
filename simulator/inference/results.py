"""``Model.parseResult``: the documented result structures from a model's raw (flat) outputs.

- ``classification`` → ``[{'label': int, 'prob': float}, ...]`` sorted by prob, highest first.
- ``ssd`` → ``[{'label', 'prob', 'xmin', 'ymin', 'xmax', 'ymax'}, ...]`` sorted by prob; coordinates in pixels
  of the model's input size, clipped inside it (Lambdas slice ``frame[ymin:ymax, xmin:xmax]``). Raw rows are
  DetectionOutput rows ``(image_id, label, conf, xmin, ymin, xmax, ymax)`` with normalised coordinates; a row
  with image_id -1 ends the list.
- ``segmentation`` (undocumented on the device; defined here) → one dict
  ``{'label_map': int32 (H, W) class per pixel, 'prob_map': float32 (H, W) probability of that class,
  'labels': sorted list of the classes present}`` from an output of shape (C, H, W) — or (H, W) class ids.
"""

from __future__ import annotations

import numpy as np

MODEL_TYPES = ("classification", "ssd", "segmentation")


def _pick(raw: dict[str, np.ndarray], model_type: str) -> np.ndarray:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"parseResult expects the dict doInference returned, got {type(raw).__name__}")
    if model_type == "ssd":
        for arr in raw.values():
            if np.asarray(arr).size % 7 == 0:
                return np.asarray(arr, dtype=np.float32).reshape(-1)
        raise ValueError("parseResult('ssd'): no output holds 7-value detection rows")
    # the largest output is the score vector / the score map
    return np.asarray(max(raw.values(), key=lambda a: np.asarray(a).size), dtype=np.float32)


def parse_classification(scores: np.ndarray) -> list[dict]:
    scores = scores.reshape(-1).astype(np.float32)
    order = np.argsort(-scores, kind="stable")
    return [{"label": i, "prob": p} for i, p in zip(order.tolist(), scores[order].tolist(), strict=True)]


def parse_ssd(rows: np.ndarray, input_hw: tuple[int, int]) -> list[dict]:
    h, w = input_hw
    rows = rows.reshape(-1, 7)
    end = np.nonzero(rows[:, 0] < 0)[0]
    if end.size:
        rows = rows[: end[0]]
    rows = rows[rows[:, 2] > 0]
    rows = rows[np.argsort(-rows[:, 2], kind="stable")]
    boxes = np.clip(rows[:, 3:7].astype(np.float64), 0, 1) * np.array([w, h, w, h], np.float64)
    return [{"label": int(label), "prob": prob, "xmin": x0, "ymin": y0, "xmax": x1, "ymax": y1}
            for label, prob, (x0, y0, x1, y1) in zip(rows[:, 1].tolist(), rows[:, 2].tolist(), boxes.tolist(),
                                                     strict=True)]


def parse_segmentation(scores: np.ndarray, input_hw: tuple[int, int], shape: tuple[int, ...] | None) -> list[dict]:
    h, w = input_hw
    flat = scores.reshape(-1)
    if shape is not None and len(shape) >= 3:
        maps = flat.reshape(shape[-3:])
    elif flat.size % (h * w) == 0:
        maps = flat.reshape(-1, h, w)
    else:
        raise ValueError(f"parseResult('segmentation'): output of {flat.size} values is not C x {h} x {w}")
    if maps.shape[0] == 1:  # already class ids
        label_map = maps[0].astype(np.int32)
        prob_map = np.ones_like(maps[0], dtype=np.float32)
    else:
        label_map = np.argmax(maps, axis=0).astype(np.int32)
        prob_map = np.take_along_axis(maps, label_map[None], axis=0)[0].astype(np.float32)
    return [{"label_map": label_map, "prob_map": prob_map, "labels": sorted(int(v) for v in np.unique(label_map))}]


def parse_result(model_type: str, raw: dict[str, np.ndarray], input_hw: tuple[int, int],
                 shapes: dict[str, tuple[int, ...]] | None = None) -> dict[str, list[dict]]:
    if model_type not in MODEL_TYPES:
        raise ValueError(f"parseResult: model_type must be one of {', '.join(MODEL_TYPES)}; got {model_type!r}")
    arr = _pick(raw, model_type)
    if model_type == "classification":
        return {model_type: parse_classification(arr)}
    if model_type == "ssd":
        return {model_type: parse_ssd(arr, input_hw)}
    shape = None
    if shapes:
        shape = max(shapes.values(), key=lambda s: int(np.prod(s)))
    return {model_type: parse_segmentation(arr, input_hw, shape)}
