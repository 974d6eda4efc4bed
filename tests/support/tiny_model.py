"""A tiny real OpenVINO model for tests: mean colour of the image → softmax over (blue, green, red)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops


def build_tiny_classifier(folder: Path, name: str = "tiny_classifier", size: int = 64) -> Path:
    image = ops.parameter([1, 3, size, size], np.float32, name="data")
    mean = ops.reduce_mean(image, np.array([2, 3], dtype=np.int64), keep_dims=False)  # [1, 3] in 0..255
    scaled = ops.multiply(mean, np.array(0.05, dtype=np.float32))
    probs = ops.softmax(scaled, 1)
    probs.output(0).get_tensor().set_names({"prob"})
    model = ov.Model([probs], [image], name)
    folder.mkdir(parents=True, exist_ok=True)
    xml = folder / f"{name}.xml"
    ov.save_model(model, str(xml))
    return xml
