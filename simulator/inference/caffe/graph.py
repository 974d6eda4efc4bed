"""A Caffe deploy network (``NAME.prototxt`` + ``NAME.caffemodel``) → an ``openvino.Model``, without Caffe.

The prototxt gives the layers and the input; the caffemodel's layers of the same names give the blobs. Layers
run in file order (in-place layers included); training-only layers (``include { phase: TRAIN }``, Accuracy,
Silence) are skipped. The outputs are the blobs no later layer reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from simulator.errors import ModelNotFoundError
from simulator.inference.caffe.layers import CONVERTERS, Layer
from simulator.inference.caffe.schema import ENUMS, read_caffemodel, read_prototxt
from simulator.inference.mxnet.errors import ModelFormatError

_V1_NAMES = {"CONVOLUTION": "Convolution", "DECONVOLUTION": "Deconvolution", "POOLING": "Pooling",
             "INNER_PRODUCT": "InnerProduct", "RELU": "ReLU", "SIGMOID": "Sigmoid", "TANH": "TanH",
             "SOFTMAX": "Softmax", "SOFTMAX_LOSS": "SoftmaxWithLoss", "DROPOUT": "Dropout", "CONCAT": "Concat",
             "LRN": "LRN", "ELTWISE": "Eltwise", "FLATTEN": "Flatten", "SPLIT": "Split", "DATA": "Data",
             "ABSVAL": "AbsVal", "BNLL": "BNLL", "ACCURACY": "Accuracy", "SILENCE": "Silence"}
_V1_TYPES = {number: _V1_NAMES.get(name, name) for name, number in ENUMS["V1LayerParameter.LayerType"].items()}
SKIPPED = frozenset({"Accuracy", "Silence"})
DATA_LAYERS = frozenset({"Data", "ImageData", "MemoryData", "DummyData", "HDF5Data", "WindowData", "AnnotatedData"})
TRAIN = 0


def _layers(net):
    """(name, type, message) of every layer, new-style or V1."""
    if len(net.layer):
        return [(lp.name, lp.type, lp) for lp in net.layer]
    return [(lp.name, _V1_TYPES.get(lp.type, str(lp.type)), lp) for lp in net.layers]


def _blob_array(blob) -> np.ndarray:
    values = np.asarray(blob.double_data if len(blob.double_data) else blob.data, dtype=np.float32)
    if blob.HasField("shape"):
        shape = tuple(int(d) for d in blob.shape.dim)
    else:
        shape = tuple(int(d) for d in (blob.num, blob.channels, blob.height, blob.width) if d) or (values.size,)
    if int(np.prod(shape)) != values.size:
        raise ModelFormatError(f"a blob of shape {shape} holds {values.size} values")
    return values.reshape(shape)


def _in_test_phase(layer) -> bool:
    if any(rule.HasField("phase") and rule.phase == TRAIN for rule in layer.include):
        return False
    return not any(rule.HasField("phase") and rule.phase != TRAIN for rule in layer.exclude)


def _input(net, path: Path, override: tuple[int, int, int, int] | None) -> tuple[str, tuple[int, ...]]:
    if len(net.input):
        if len(net.input) > 1:
            raise ModelFormatError(f"{path}: {len(net.input)} inputs ({', '.join(net.input)}); only one is supported")
        if len(net.input_shape):
            shape = tuple(int(d) for d in net.input_shape[0].dim)
        else:
            shape = tuple(int(d) for d in net.input_dim[:4])
        name = net.input[0]
    else:
        inputs = [(lname, lp) for lname, ltype, lp in _layers(net) if ltype == "Input" and _in_test_phase(lp)]
        if not inputs:
            data = [lname for lname, ltype, _ in _layers(net) if ltype in DATA_LAYERS]
            raise ModelFormatError(f"{path}: no input declared" + (f" (layer '{data[0]}' reads a training database)"
                                                                   if data else ""),
                                   hint="give the deploy prototxt (with 'input:' or an Input layer)")
        lname, lp = inputs[0]
        shape = tuple(int(d) for d in lp.input_param.shape[0].dim) if len(lp.input_param.shape) else ()
        name = lp.top[0] if len(lp.top) else lname
    if override is not None:
        shape = tuple(int(d) for d in override)
    if len(shape) != 4 or any(d <= 0 for d in shape):
        raise ModelFormatError(f"{path}: input '{name}' has shape {shape}; expected N, C, H, W")
    return name, shape


def build_caffe(net, weights, prototxt: Path, input_shape: tuple[int, int, int, int] | None = None) -> ov.Model:
    """Convert already-parsed networks (see :func:`read_caffe`)."""
    stored = {name: [_blob_array(b) for b in lp.blobs] for name, _t, lp in _layers(weights) if len(lp.blobs)}
    input_name, shape = _input(net, prototxt, input_shape)
    data = ops.parameter(list(shape), np.float32, name=input_name)
    data.output(0).get_tensor().set_names({input_name})
    blobs: dict[str, ov.Output] = {input_name: data.output(0)}
    unread: dict[str, ov.Output] = {}
    for name, kind, lp in _layers(net):
        if kind in ("Input", *SKIPPED) or not _in_test_phase(lp):
            continue
        where = f"{prototxt}: layer '{name}' ({kind})"
        convert = CONVERTERS.get(kind)
        if kind != "Split" and convert is None:
            raise ModelFormatError(f"{where}: layer type '{kind}' is not supported",
                                   hint="export the model to ONNX and use the .onnx file")
        missing = [b for b in lp.bottom if b not in blobs]
        if missing:
            raise ModelFormatError(f"{where}: bottom '{missing[0]}' is not produced by an earlier layer")
        inputs = [blobs[b] for b in lp.bottom]
        for b in lp.bottom:
            unread.pop(b, None)
        if convert is None:  # Split: every top is the bottom
            outs = [inputs[0]] * len(lp.top)
        else:
            own = [_blob_array(b) for b in lp.blobs]
            layer = Layer(name, kind, lp, inputs, own or stored.get(name, []), str(prototxt))
            try:
                result = convert(layer)
            except ModelFormatError:
                raise
            except (RuntimeError, ValueError, TypeError, IndexError) as exc:
                raise ModelFormatError(f"{where}: cannot be converted: {str(exc).splitlines()[0]}") from exc
            out: ov.Output = result.output(0) if isinstance(result, ov.Node) else result
            out.get_node().set_friendly_name(name)
            outs = [out] * max(1, len(lp.top))
        for top, out in zip(lp.top, outs, strict=False):
            blobs[top] = out
            unread[top] = out
    if not unread:
        raise ModelFormatError(f"{prototxt}: the network has no output")
    results = []
    for top, out in unread.items():
        out.get_tensor().set_names({top})
        results.append(ops.result(out, name=top))
    return ov.Model(results, [data], prototxt.stem)


def read_caffe(prototxt: Path, caffemodel: Path, input_shape: tuple[int, int, int, int] | None = None) -> ov.Model:
    """A Caffe deploy network as an OpenVINO model; ``input_shape`` (N, C, H, W) overrides the declared input.

    Raises ModelNotFoundError for a missing file, ModelFormatError naming the file and layer otherwise.
    """
    return build_caffe(read_prototxt(Path(prototxt)), read_caffemodel(Path(caffemodel)), Path(prototxt), input_shape)


def find_caffe_pair(folder: Path, name: str) -> tuple[Path, Path] | None:
    """``(NAME.prototxt, NAME.caffemodel)`` in ``folder``; None without the prototxt, ModelNotFoundError when the
    prototxt is there but its weights are not."""
    prototxt, weights = Path(folder) / f"{name}.prototxt", Path(folder) / f"{name}.caffemodel"
    if not prototxt.is_file():
        return None
    if not weights.is_file():
        raise ModelNotFoundError(f"{prototxt.name} is in {folder} but {weights.name} is not",
                                 hint="copy the trained weights beside the prototxt")
    return prototxt, weights


def convert_caffe(folder: Path, name: str, width: int, height: int, precision: str = "FP16") -> Path | None:
    """``mo.optimize`` for Caffe: ``NAME.prototxt`` + ``NAME.caffemodel`` → ``caffe_NAME_PRECISION_FUSED.xml``."""
    pair = find_caffe_pair(folder, name)
    if pair is None:
        return None
    net = read_prototxt(pair[0])
    _name, shape = _input(net, pair[0], None)
    model = build_caffe(net, read_caffemodel(pair[1]), pair[0], (1, shape[1], int(height), int(width)))
    target = Path(folder) / f"caffe_{name}_{precision.upper()}_FUSED.xml"
    ov.save_model(model, str(target), compress_to_fp16=precision.upper() == "FP16")
    return target
