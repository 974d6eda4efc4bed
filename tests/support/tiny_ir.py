"""The smallest OpenVINO IR the model tests load, serve and convert."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops


def save_mean_ir(folder: Path, name: str, size: int = 16, fp16: bool = False) -> Path:
    """IR: NCHW image -> per-channel mean [1, 3] (output "means")."""
    image = ops.parameter([1, 3, size, size], np.float32, name="data")
    mean = ops.reduce_mean(image, np.array([2, 3], dtype=np.int64), keep_dims=False)
    mean.output(0).get_tensor().set_names({"means"})
    xml = folder / f"{name}.xml"
    ov.save_model(ov.Model([mean], [image], name), str(xml), compress_to_fp16=fp16)
    return xml
