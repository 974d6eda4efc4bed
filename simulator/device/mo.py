"""``mo``: the device's model optimizer, on today's OpenVINO.

``error, model_path = mo.optimize(name, width, height, platform=..., aux_inputs={...})`` looks for the model by
name in the artifacts folder: an MXNet checkpoint ``<name>-symbol.json`` + ``<name>-NNNN.params`` (the newest
epoch, or ``--epoch``) and a Caffe ``<name>.prototxt`` + ``<name>.caffemodel``, read by the simulator itself with
no MXNet or Caffe installed; ``<name>.onnx``, ``<name>.tflite``, ``<name>.pb`` (TF frozen graph) and
``<name>.pdmodel`` (PaddlePaddle) through ``openvino.convert_model``. Status 0 = OK, 1 = platform unknown,
2 = optimizer failed (the log says why). The IR is written beside the input as
``<platform>_<name>_<precision>_FUSED.xml`` and reused while it is newer than its input.
"""

from __future__ import annotations

import logging
from pathlib import Path

import openvino as ov

from simulator.inference.telemetry_off import conversion_telemetry_off
from simulator.ipc import context

log = logging.getLogger("mo")

OK, UNSUPPORTED, FAILED = 0, 1, 2

_PLATFORMS = {"": "mx", "mx": "mx", "mxnet": "mx", "tf": "tf", "tensorflow": "tf", "onnx": "onnx",
              "tflite": "tflite", "paddle": "paddle", "caffe": "caffe"}
_SUFFIXES = (".onnx", ".tflite", ".pb", ".pdmodel")
_PREFIX = {"mx": "mxnet", "tf": "tf", "onnx": "onnx", "tflite": "tflite", "paddle": "paddle", "caffe": "caffe"}


def _find_input(folder: Path, name: str) -> Path | None:
    for suffix in _SUFFIXES:
        candidate = folder / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def optimize(model_name, input_width, input_height, platform="mx", aux_inputs=None):
    """Convert ``model_name`` from the artifacts folder to IR; returns ``(status, xml_path)``."""
    aux = dict(aux_inputs or {})
    folder = context.current().artifacts
    plat = _PLATFORMS.get(str(platform or "").lower())
    if plat is None:
        log.error("mo.optimize: unknown platform %r (use 'mx', 'tf', 'onnx', 'tflite' or 'paddle')", platform)
        return UNSUPPORTED, ""
    if not (0 < int(input_width) <= 1024 and 0 < int(input_height) <= 1024):
        log.error("mo.optimize: input size %sx%s out of range (1..1024)", input_width, input_height)
        return FAILED, ""
    precision = str(aux.get("--precision", "FP16")).upper()
    if plat in ("mx", "caffe"):
        done = _optimize_checkpoint(plat, folder, model_name, int(input_width), int(input_height), aux, precision)
        if done is not None:
            return done
    source = _find_input(folder, model_name)
    if source is None:
        looked = [f"{model_name}{s}" for s in _SUFFIXES]
        if plat == "mx":
            looked.insert(0, f"{model_name}-symbol.json + {model_name}-NNNN.params")
        elif plat == "caffe":
            looked.insert(0, f"{model_name}.prototxt + {model_name}.caffemodel")
        log.error("mo.optimize(%r): none of %s in %s", model_name, " / ".join(looked), folder)
        return FAILED, ""
    target = folder / f"{_PREFIX[plat]}_{model_name}_{precision}_FUSED.xml"
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return OK, str(target)
    try:
        conversion_telemetry_off()
        graph = ov.convert_model(str(source))
        _set_input_size(graph, int(input_width), int(input_height))
        ov.save_model(graph, str(target), compress_to_fp16=(precision == "FP16"))
    except Exception as exc:  # noqa: BLE001 - the device answered 2 and the Lambda decides
        log.error("mo.optimize(%r): conversion of %s failed: %s", model_name, source.name, exc)
        return FAILED, ""
    log.info("mo.optimize(%r): %s → %s", model_name, source.name, target.name)
    return OK, str(target)


def _optimize_checkpoint(plat: str, folder: Path, name: str, width: int, height: int, aux: dict,
                         precision: str) -> tuple[int, str] | None:
    """MXNet NAME-symbol.json + NAME-NNNN.params / Caffe NAME.prototxt + NAME.caffemodel -> IR; None if absent."""
    from simulator.errors import ModelNotFoundError
    from simulator.inference.mxnet import ModelFormatError, convert_checkpoint

    try:
        if plat == "mx":
            epoch = aux.get("--epoch")
            target = convert_checkpoint(folder, name, width, height, epoch=None if epoch is None else int(epoch),
                                        channels=int(aux.get("--img-channels", 3)), precision=precision)
        else:
            from simulator.inference.caffe import convert_caffe

            target = convert_caffe(folder, name, width, height, precision=precision)
    except (ModelNotFoundError, ModelFormatError) as exc:
        log.error("mo.optimize(%r): %s", name, exc)
        return FAILED, ""
    if target is None:
        return None
    log.info("mo.optimize(%r): %s model -> %s", name, "MXNet" if plat == "mx" else "Caffe", target.name)
    return OK, str(target)


def _set_input_size(graph: ov.Model, width: int, height: int) -> None:
    """Fix a dynamic spatial size of a single image input to the requested size."""
    if len(graph.inputs) != 1:
        return
    shape = graph.input(0).get_partial_shape()
    if shape.rank.is_dynamic or shape.rank.get_length() != 4 or shape.is_static:
        return
    dims = list(shape)
    channels_first = dims[1].is_static and dims[1].get_length() in (1, 3)
    new = [1, dims[1], height, width] if channels_first else [1, height, width, dims[3]]
    graph.reshape({graph.input(0): ov.PartialShape(new)})
