"""Run a plain OpenVINO model (IR, ONNX, TFLite, TF frozen graph, PaddlePaddle) the way ``awscam.Model`` did."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import openvino as ov

from simulator.inference import devices
from simulator.inference.layout import to_hwc


def read_graph(path: Path) -> ov.Model:
    """Read any format OpenVINO reads; a TF frozen graph goes through ``convert_model``."""
    if path.suffix == ".pb":
        return ov.convert_model(str(path))
    return devices.core().read_model(str(path))


class OpenVINOModel:
    """One image input (NCHW or NHWC, found from its shape); outputs returned flat float32 by name."""

    def __init__(self, graph: ov.Model, device: str, name: str) -> None:
        self.name = name
        self._graph = graph
        if len(graph.inputs) != 1:
            raise ValueError(f"{name}: expected a model with one image input, it has {len(graph.inputs)}")
        port = graph.input(0)
        shape = port.get_partial_shape()
        if shape.rank.get_length() != 4 or not all(d.is_static for d in list(shape)[1:]):
            raise ValueError(f"{name}: expected a 4-D image input with a static size, got {shape}")
        dims = [d.get_length() if d.is_static else 1 for d in shape]
        self.nchw = dims[1] in (1, 3) and dims[3] not in (1, 3)
        self.channels = dims[1] if self.nchw else dims[3]
        self.input_hw = (dims[2], dims[3]) if self.nchw else (dims[1], dims[2])
        self._dtype = np.dtype(port.get_element_type().to_dtype())
        if shape[0].is_dynamic:
            graph.reshape({port.any_name if port.names else 0: [1] + dims[1:]})
        self._compiled = devices.compile_model(graph, device)
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()  # one request: Lambda threads take turns
        self._out_names = [o.any_name if o.names else f"output{i}" for i, o in enumerate(self._compiled.outputs)]
        self.output_shapes = {n: tuple(o.get_partial_shape().get_min_shape())
                              for n, o in zip(self._out_names, self._compiled.outputs)}

    @property
    def graph(self) -> ov.Model:
        return self._graph

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        hwc = to_hwc(frame, self.input_hw)
        if hwc.shape[:2] != self.input_hw:
            hwc = cv2.resize(hwc, (self.input_hw[1], self.input_hw[0]), interpolation=cv2.INTER_LINEAR)
        if self.channels == 1 and hwc.shape[2] == 3:
            hwc = cv2.cvtColor(hwc, cv2.COLOR_BGR2GRAY)[:, :, None]
        tensor = hwc.transpose(2, 0, 1) if self.nchw else hwc
        return np.ascontiguousarray(tensor[None]).astype(self._dtype, copy=False)

    def infer(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        tensor = self.prepare(frame)
        with self._lock:
            results = self._request.infer(tensor)
        return {name: np.asarray(results[i], dtype=np.float32).reshape(-1)
                for i, name in enumerate(self._out_names)}
