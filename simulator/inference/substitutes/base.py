"""What every substitute shares: compiling a bundled IR, bringing the Lambda's frame to the network's input,
and writing results in the device models' output layouts (SSD DetectionOutput rows, probability vectors)."""

from __future__ import annotations

import cv2
import numpy as np

from ..adapter import OpenVINOModel
from ..layout import to_uint8_hwc
from ..store import ensure_model, file_cache_dir

SSD_ROWS = 100  # keep_top_k of the device's DetectionOutput layers


class SubstituteModel:
    """A compiled bundled model that answers for one of the device's lost models (an InferenceModel).

    Subclasses set ``output_name`` and ``output_shape`` (the original model's output) and implement ``_prepare``
    (frame -> network input) and ``_answer`` (network outputs -> the original model's output).
    """

    output_name = "output"
    output_shape: tuple[int, ...] = ()

    def __init__(self, name: str, input_hw: tuple[int, int], model_name: str, core, device: str, config: dict):
        self.name = name
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self.model_name = model_name
        self.output_shapes = {self.output_name: self.output_shape}
        xml = ensure_model(model_name)
        # compiled by its path from a cache of its own (store.file_cache_dir): ~0.1 s sooner than hashing the graph
        config = {**(config or {}), "CACHE_DIR": str(file_cache_dir(xml))}
        self.net = OpenVINOModel(core.read_model(str(xml)), device, model_name, core=core, config=config, source=xml)
        self.model_hw = self.net.input_hw

    @property
    def graph(self):
        """The openvino.Model actually run."""
        return self.net.graph

    @property
    def compiled(self):
        return self.net.compiled

    def runs_on(self) -> str:
        return self.net.runs_on()

    def try_fewer_threads(self, decided, trial=None, watch=None) -> bool:
        return self.net.try_fewer_threads(decided, trial, watch)

    def bgr(self, frame: np.ndarray, size_hw: tuple[int, int] | None = None) -> np.ndarray:
        """The frame as uint8 HWC BGR at ``size_hw`` (the network's input size by default).

        The layout is read against the original input size (the size the Lambda resized for)."""
        hwc = to_uint8_hwc(frame, self.input_hw)
        size_hw = size_hw or self.model_hw
        if hwc.shape[:2] != tuple(size_hw):
            hwc = cv2.resize(hwc, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_LINEAR)
        return hwc

    def rgb(self, frame: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(self.bgr(frame), cv2.COLOR_BGR2RGB)

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run the network on one input tensor; outputs in the graph's order (copied)."""
        return self.net.run(tensor)

    def infer(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        out = self._answer(self.run(self._prepare(frame)))
        return {self.output_name: np.ascontiguousarray(out, dtype=np.float32).ravel()}

    def _prepare(self, frame: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _answer(self, outputs: list[np.ndarray]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} answered by {self.model_name}>"


def ssd_output(labels, scores, boxes, rows: int = SSD_ROWS) -> np.ndarray:
    """DetectionOutput layout [1, 1, rows, 7]: (image_id, label, conf, xmin, ymin, xmax, ymax), normalised boxes.

    Sorted by confidence (highest first); unused rows have image_id -1 (the first of them ends the list).
    """
    labels = np.asarray(labels, dtype=np.float32).reshape(-1)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    boxes = np.clip(np.asarray(boxes, dtype=np.float32).reshape(-1, 4), 0.0, 1.0)
    order = np.argsort(-scores, kind="stable")[:rows]
    out = np.zeros((1, 1, rows, 7), dtype=np.float32)
    out[0, 0, :, 0] = -1.0
    n = len(order)
    out[0, 0, :n, 0] = 0.0
    out[0, 0, :n, 1] = labels[order]
    out[0, 0, :n, 2] = scores[order]
    out[0, 0, :n, 3:7] = boxes[order]
    return out


def probabilities(scores: np.ndarray) -> np.ndarray:
    """A flat float32 probability vector (uint8 scores are cast before anything else), summing to 1."""
    p = np.asarray(scores).astype(np.float32).reshape(-1)
    total = float(p.sum())
    return p / total if total > 0 else np.full_like(p, 1.0 / max(len(p), 1))
