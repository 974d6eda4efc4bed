"""Resolve the model file a Lambda names and load it: a real file, a substitute for a lost device model,
or a bundled model referenced by name."""

from __future__ import annotations

import logging
from pathlib import Path

from simulator.errors import ModelNotFoundError
from simulator.inference import devices
from simulator.inference.adapter import OpenVINOModel, read_graph
from simulator.inference.model import InferenceModel

log = logging.getLogger(__name__)

READABLE = (".xml", ".onnx", ".tflite", ".pb", ".pdmodel")
CHECKPOINTS = (".params", ".prototxt", ".caffemodel")  # MXNet and Caffe, read without MXNet or Caffe


def _read_checkpoint(path: Path):
    if path.suffix in (".prototxt", ".caffemodel"):
        from simulator.inference.caffe import read_caffe

        return read_caffe(path.with_suffix(".prototxt"), path.with_suffix(".caffemodel"))
    from simulator.inference.mxnet import load_checkpoint

    return load_checkpoint(path)


def load_model(path: Path, requested_device: str, shown_path: str | None = None) -> InferenceModel:
    """``path`` is already remapped to the artifacts folder; ``shown_path`` is what the Lambda asked for."""
    shown = shown_path or str(path)
    device = devices.resolve_device(requested_device)
    if path.is_file() and (path.name.endswith("-symbol.json") or path.suffix in CHECKPOINTS):
        return OpenVINOModel(_read_checkpoint(path), device, path.name)
    if path.is_file():
        if path.suffix not in READABLE:
            raise ModelNotFoundError(f"{shown}: the simulator cannot read '{path.suffix}' files",
                                     hint=f"give an IR .xml, one of {', '.join(READABLE[1:])}, an MXNet "
                                          "NAME-symbol.json + NAME-NNNN.params or a Caffe .prototxt + .caffemodel")
        if path.suffix == ".xml" and not path.with_suffix(".bin").is_file():
            raise ModelNotFoundError(f"{shown}: the IR's weights file {path.with_suffix('.bin').name} is missing",
                                     hint="put the .bin beside the .xml in the artifacts folder")
        return OpenVINOModel(read_graph(path), device, path.name)
    from simulator.inference import substitutes

    sub = substitutes.find_substitute(path.name)
    if sub is not None:
        log.info("%s", sub.description)
        return sub.load(devices.core(), device, devices.compile_config(device))
    bundled = substitutes.find_bundled(path.name)
    if bundled is not None:
        return OpenVINOModel(read_graph(bundled), device, path.name)
    raise ModelNotFoundError(
        f"model file not found: {shown} (looked in {path.parent})",
        hint="copy the model (IR .xml + .bin, .onnx, .tflite, .pb, .pdmodel) into the artifacts folder, "
             "fetch an Open Model Zoo model with: python main.py models fetch omz:NAME, "
             "or list the bundled models with: python main.py models list")
