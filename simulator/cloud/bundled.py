"""A bundled model of the store, compiled lazily for the local cloud's own inference."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import openvino as ov

log = logging.getLogger(__name__)


class BundledModel:
    """A bundled model (see ``models.yaml``) compiled on the CPU on first use; one inference at a time."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loaded: tuple[ov.CompiledModel, ov.InferRequest] | None = None

    def _load(self) -> tuple[ov.CompiledModel, ov.InferRequest]:
        from ..inference import devices
        from ..inference.store import ensure_model

        log.info("local cloud: loading the bundled model %s (first use)", self._name)
        model = devices.core().read_model(str(ensure_model(self._name, progress=False)))
        compiled = devices.compile_model(model, "CPU")
        return compiled, compiled.create_infer_request()

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs by every name they carry."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            compiled, request = self._loaded
            request.infer({0: tensor})
            out = {}
            for i, port in enumerate(compiled.outputs):
                value = np.array(request.get_output_tensor(i).data)
                for name in port.get_names() or {str(i)}:
                    out[name] = value
            return out
