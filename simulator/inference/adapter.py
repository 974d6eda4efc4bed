"""Run an OpenVINO model (IR, ONNX, TFLite, TF frozen graph, PaddlePaddle) the way ``awscam.Model`` did.

``OpenVINOModel`` is the one class that compiles and runs a graph: user models use it directly, the substitutes
for the device's lost models wrap it. It runs on the process's one ``ov.Core`` (``devices.core()``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import openvino as ov

from simulator.inference import devices
from simulator.inference.layout import to_hwc
from simulator.inference.telemetry_off import conversion_telemetry_off


def read_graph(path: Path) -> ov.Model:
    """Read any format OpenVINO reads; a TF frozen graph goes through ``convert_model``."""
    if path.suffix == ".pb":
        conversion_telemetry_off()
        return ov.convert_model(str(path))
    return devices.core().read_model(str(path))


def channels_first(port: ov.Output, dims: list[int]) -> bool:
    """Is this 4-D image input NCHW? The layout in the model's runtime info decides; the shape only when the
    model carries no layout (a dimension of 1 or 3 in position 1 and not in position 3)."""
    layout = ov.layout_helpers.get_layout(port)
    if not layout.empty and layout.has_name("C"):
        return bool(ov.layout_helpers.channels_idx(layout) in (1, -3))
    return dims[1] in (1, 3) and dims[3] not in (1, 3)


class OpenVINOModel:
    """One image input (NCHW or NHWC); ``infer`` returns the outputs flat float32 by name, ``run`` as arrays."""

    def __init__(self, graph: ov.Model, device: str, name: str, core: ov.Core | None = None,
                 config: dict[str, str] | None = None, source: Path | None = None) -> None:
        """``source``: the IR file ``graph`` was read from, compiled by its path instead, so that a ``CACHE_DIR``
        in ``config`` is looked up by the path rather than by hashing the whole graph (OpenVINO keys such an
        entry by the path alone: the caller gives each version of the file its own cache folder)."""
        self.name = name
        self._graph = graph
        if len(graph.inputs) != 1:
            raise ValueError(f"{name}: expected a model with one image input, it has {len(graph.inputs)}")
        port = graph.input(0)
        shape = port.get_partial_shape()
        if shape.rank.is_dynamic or shape.rank.get_length() != 4 or not all(d.is_static for d in list(shape)[1:]):
            raise ValueError(f"{name}: expected a 4-D image input with a static size, got {shape}")
        dims = [d.get_length() if d.is_static else 1 for d in shape]
        self.nchw = channels_first(port, dims)
        self.channels = dims[1] if self.nchw else dims[3]
        self.input_hw = (dims[2], dims[3]) if self.nchw else (dims[1], dims[2])
        self._dtype = np.dtype(port.get_element_type().to_dtype())
        if shape[0].is_dynamic:
            graph.reshape({port.any_name if port.names else 0: [1, *dims[1:]]})
        cfg = dict(devices.compile_config(device) if config is None else config)
        target = str(source) if source is not None and not shape[0].is_dynamic else graph
        self._compiled = (core or devices.core()).compile_model(target, device, cfg)
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()  # one request: Lambda threads take turns
        self._out_names = [o.any_name if o.names else f"output{i}" for i, o in enumerate(self._compiled.outputs)]
        self.output_shapes: dict[str, tuple[int, ...]] = {
            n: tuple(o.get_partial_shape().get_min_shape()) for n, o in zip(self._out_names, self._compiled.outputs,
                                                                            strict=True)}

    @property
    def graph(self) -> ov.Model:
        return self._graph

    @property
    def compiled(self) -> ov.CompiledModel:
        return self._compiled

    def runs_on(self) -> str:
        """What runs this model here, e.g. 'CPU (f32)'."""
        device = ", ".join(self._compiled.get_property("EXECUTION_DEVICES"))
        try:
            hint = self._compiled.get_property("INFERENCE_PRECISION_HINT")
            precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        except RuntimeError:
            precision = ""
        details = [precision] if precision else []
        if "CPU" in device and devices.cpu_threads() is not None:
            threads = int(self._compiled.get_property("INFERENCE_NUM_THREADS"))
            details.append(f"{threads} thread{'s' if threads != 1 else ''}")
        return f"{device} ({', '.join(details)})" if details else device

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        hwc = to_hwc(frame, self.input_hw)
        if hwc.shape[:2] != self.input_hw:
            hwc = cv2.resize(hwc, (self.input_hw[1], self.input_hw[0]), interpolation=cv2.INTER_LINEAR)
        if self.channels == 1 and hwc.shape[2] == 3:
            hwc = cv2.cvtColor(hwc, cv2.COLOR_BGR2GRAY)[:, :, None]
        tensor = hwc.transpose(2, 0, 1) if self.nchw else hwc
        return np.ascontiguousarray(tensor[None]).astype(self._dtype, copy=False)

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run on one input tensor already in the network's layout; outputs in the graph's order (copied)."""
        with self._lock:
            self._request.infer({0: tensor})
            return [np.array(self._request.get_output_tensor(i).data) for i in range(len(self._out_names))]

    def infer(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.run(self.prepare(frame))
        return {name: np.asarray(out, dtype=np.float32).reshape(-1)
                for name, out in zip(self._out_names, outputs, strict=True)}
