"""The part of Caffe's ``caffe.proto`` a deploy network needs, as a protobuf descriptor built here (no protoc, no
generated code): field names, numbers and types as caffe.proto (BVLC, BSD-2-Clause) declares them. Fields a file
uses but this schema lacks are skipped (prototxt) or kept unread (caffemodel)."""

from __future__ import annotations

import functools
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from google.protobuf.message import DecodeError, Message

from simulator.errors import ModelNotFoundError
from simulator.inference.mxnet.errors import ModelFormatError

# (name, number, type, repeated, type name or None, default or None, packed)
_T = descriptor_pb2.FieldDescriptorProto
_TYPES = {"float": _T.TYPE_FLOAT, "double": _T.TYPE_DOUBLE, "int64": _T.TYPE_INT64, "uint64": _T.TYPE_UINT64,
          "int32": _T.TYPE_INT32, "uint32": _T.TYPE_UINT32, "bool": _T.TYPE_BOOL, "string": _T.TYPE_STRING}
ENUMS = {
    "Phase": {"TRAIN": 0, "TEST": 1},
    "PoolingParameter.PoolMethod": {"MAX": 0, "AVE": 1, "STOCHASTIC": 2},
    "PoolingParameter.RoundMode": {"CEIL": 0, "FLOOR": 1},
    "EltwiseParameter.EltwiseOp": {"PROD": 0, "SUM": 1, "MAX": 2},
    "LRNParameter.NormRegion": {"ACROSS_CHANNELS": 0, "WITHIN_CHANNEL": 1},
    "V1LayerParameter.LayerType": {
        "NONE": 0, "ABSVAL": 35, "ACCURACY": 1, "ARGMAX": 30, "BNLL": 2, "CONCAT": 3, "CONTRASTIVE_LOSS": 37,
        "CONVOLUTION": 4, "DATA": 5, "DECONVOLUTION": 39, "DROPOUT": 6, "DUMMY_DATA": 32, "EUCLIDEAN_LOSS": 7,
        "ELTWISE": 25, "EXP": 38, "FLATTEN": 8, "HDF5_DATA": 9, "HDF5_OUTPUT": 10, "HINGE_LOSS": 28, "IM2COL": 11,
        "IMAGE_DATA": 12, "INFOGAIN_LOSS": 13, "INNER_PRODUCT": 14, "LRN": 15, "MEMORY_DATA": 29,
        "MULTINOMIAL_LOGISTIC_LOSS": 16, "MVN": 34, "POOLING": 17, "POWER": 26, "RELU": 18, "SIGMOID": 19,
        "SIGMOID_CROSS_ENTROPY_LOSS": 27, "SILENCE": 36, "SOFTMAX": 20, "SOFTMAX_LOSS": 21, "SPLIT": 22,
        "SLICE": 33, "TANH": 23, "WINDOW_DATA": 24, "THRESHOLD": 31},
}
_LAYER_PARAMS = [
    ("batch_norm_param", 139, "BatchNormParameter"), ("bias_param", 141, "BiasParameter"),
    ("concat_param", 104, "ConcatParameter"), ("convolution_param", 106, "ConvolutionParameter"),
    ("dropout_param", 108, "DropoutParameter"), ("eltwise_param", 110, "EltwiseParameter"),
    ("elu_param", 140, "ELUParameter"), ("flatten_param", 135, "FlattenParameter"),
    ("inner_product_param", 117, "InnerProductParameter"), ("input_param", 143, "InputParameter"),
    ("lrn_param", 118, "LRNParameter"), ("pooling_param", 121, "PoolingParameter"),
    ("prelu_param", 131, "PReLUParameter"), ("relu_param", 123, "ReLUParameter"),
    ("scale_param", 142, "ScaleParameter"), ("softmax_param", 125, "SoftmaxParameter"),
]
_V1_PARAMS = [
    ("concat_param", 9, "ConcatParameter"), ("convolution_param", 10, "ConvolutionParameter"),
    ("dropout_param", 12, "DropoutParameter"), ("eltwise_param", 24, "EltwiseParameter"),
    ("inner_product_param", 17, "InnerProductParameter"), ("lrn_param", 18, "LRNParameter"),
    ("pooling_param", 19, "PoolingParameter"), ("relu_param", 30, "ReLUParameter"),
    ("softmax_param", 39, "SoftmaxParameter"),
]
MESSAGES: dict[str, list[tuple]] = {
    "BlobShape": [("dim", 1, "int64", True, None, None, True)],
    "BlobProto": [
        ("shape", 7, "BlobShape", False, None, None, False), ("data", 5, "float", True, None, None, True),
        ("diff", 6, "float", True, None, None, True), ("double_data", 8, "double", True, None, None, True),
        ("double_diff", 9, "double", True, None, None, True), ("num", 1, "int64", False, None, "0", False),
        ("channels", 2, "int64", False, None, "0", False), ("height", 3, "int64", False, None, "0", False),
        ("width", 4, "int64", False, None, "0", False)],
    "NetStateRule": [("phase", 1, "enum", False, "Phase", None, False), ("min_level", 2, "int32", False, None, None,
                                                                          False),
                     ("max_level", 3, "int32", False, None, None, False), ("stage", 4, "string", True, None, None,
                                                                           False),
                     ("not_stage", 5, "string", True, None, None, False)],
    "NetParameter": [
        ("name", 1, "string", False, None, None, False), ("input", 3, "string", True, None, None, False),
        ("input_shape", 8, "BlobShape", True, None, None, False), ("input_dim", 4, "int32", True, None, None, False),
        ("layer", 100, "LayerParameter", True, None, None, False),
        ("layers", 2, "V1LayerParameter", True, None, None, False)],
    "LayerParameter": [
        ("name", 1, "string", False, None, None, False), ("type", 2, "string", False, None, None, False),
        ("bottom", 3, "string", True, None, None, False), ("top", 4, "string", True, None, None, False),
        ("phase", 10, "enum", False, "Phase", None, False), ("blobs", 7, "BlobProto", True, None, None, False),
        ("include", 8, "NetStateRule", True, None, None, False),
        ("exclude", 9, "NetStateRule", True, None, None, False),
    ] + [(n, k, t, False, None, None, False) for n, k, t in _LAYER_PARAMS],
    "V1LayerParameter": [
        ("bottom", 2, "string", True, None, None, False), ("top", 3, "string", True, None, None, False),
        ("name", 4, "string", False, None, None, False),
        ("include", 32, "NetStateRule", True, None, None, False),
        ("exclude", 33, "NetStateRule", True, None, None, False),
        ("type", 5, "enum", False, "V1LayerParameter.LayerType", None, False),
        ("blobs", 6, "BlobProto", True, None, None, False),
    ] + [(n, k, t, False, None, None, False) for n, k, t in _V1_PARAMS],
    "ConvolutionParameter": [
        ("num_output", 1, "uint32", False, None, None, False), ("bias_term", 2, "bool", False, None, "true", False),
        ("pad", 3, "uint32", True, None, None, False), ("kernel_size", 4, "uint32", True, None, None, False),
        ("group", 5, "uint32", False, None, "1", False), ("stride", 6, "uint32", True, None, None, False),
        ("pad_h", 9, "uint32", False, None, "0", False), ("pad_w", 10, "uint32", False, None, "0", False),
        ("kernel_h", 11, "uint32", False, None, None, False), ("kernel_w", 12, "uint32", False, None, None, False),
        ("stride_h", 13, "uint32", False, None, None, False), ("stride_w", 14, "uint32", False, None, None, False),
        ("axis", 16, "int32", False, None, "1", False), ("dilation", 18, "uint32", True, None, None, False)],
    "PoolingParameter": [
        ("pool", 1, "enum", False, "PoolingParameter.PoolMethod", "MAX", False),
        ("kernel_size", 2, "uint32", True, None, None, False), ("stride", 3, "uint32", True, None, None, False),
        ("pad", 4, "uint32", True, None, None, False), ("kernel_h", 5, "uint32", False, None, None, False),
        ("kernel_w", 6, "uint32", False, None, None, False), ("stride_h", 7, "uint32", False, None, None, False),
        ("stride_w", 8, "uint32", False, None, None, False), ("pad_h", 9, "uint32", False, None, "0", False),
        ("pad_w", 10, "uint32", False, None, "0", False), ("global_pooling", 12, "bool", False, None, "false", False),
        ("round_mode", 13, "enum", False, "PoolingParameter.RoundMode", "CEIL", False)],
    "InnerProductParameter": [
        ("num_output", 1, "uint32", False, None, None, False), ("bias_term", 2, "bool", False, None, "true", False),
        ("axis", 5, "int32", False, None, "1", False), ("transpose", 6, "bool", False, None, "false", False)],
    "BatchNormParameter": [
        ("use_global_stats", 1, "bool", False, None, None, False),
        ("moving_average_fraction", 2, "float", False, None, "0.999", False),
        ("eps", 3, "float", False, None, "1e-05", False)],
    "ScaleParameter": [("axis", 1, "int32", False, None, "1", False), ("num_axes", 2, "int32", False, None, "1", False),
                       ("bias_term", 4, "bool", False, None, "false", False)],
    "BiasParameter": [("axis", 1, "int32", False, None, "1", False), ("num_axes", 2, "int32", False, None, "1", False)],
    "EltwiseParameter": [("operation", 1, "enum", False, "EltwiseParameter.EltwiseOp", "SUM", False),
                         ("coeff", 2, "float", True, None, None, False)],
    "ConcatParameter": [("concat_dim", 1, "uint32", False, None, "1", False),
                        ("axis", 2, "int32", False, None, "1", False)],
    "SoftmaxParameter": [("axis", 2, "int32", False, None, "1", False)],
    "FlattenParameter": [("axis", 1, "int32", False, None, "1", False),
                         ("end_axis", 2, "int32", False, None, "-1", False)],
    "DropoutParameter": [("dropout_ratio", 1, "float", False, None, "0.5", False)],
    "ReLUParameter": [("negative_slope", 1, "float", False, None, "0", False)],
    "ELUParameter": [("alpha", 1, "float", False, None, "1", False)],
    "PReLUParameter": [("channel_shared", 2, "bool", False, None, "false", False)],
    "LRNParameter": [
        ("local_size", 1, "uint32", False, None, "5", False), ("alpha", 2, "float", False, None, "1", False),
        ("beta", 3, "float", False, None, "0.75", False),
        ("norm_region", 4, "enum", False, "LRNParameter.NormRegion", "ACROSS_CHANNELS", False),
        ("k", 5, "float", False, None, "1", False)],
    "InputParameter": [("shape", 1, "BlobShape", True, None, None, False)],
}


def _file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    fd = descriptor_pb2.FileDescriptorProto(name="deeplens_caffe_subset.proto", package="caffe", syntax="proto2")
    messages = {name: fd.message_type.add(name=name) for name in MESSAGES}
    for qualified, values in ENUMS.items():
        owner, _, enum_name = qualified.rpartition(".")
        enum = (messages[owner].enum_type if owner else fd.enum_type).add(name=enum_name)
        for key, number in values.items():
            enum.value.add(name=key, number=number)
    for name, fields in MESSAGES.items():
        for fname, number, kind, repeated, enum_name, default, packed in fields:
            field = messages[name].field.add(name=fname, number=number,
                                             label=_T.LABEL_REPEATED if repeated else _T.LABEL_OPTIONAL)
            if kind == "enum":
                field.type, field.type_name = _T.TYPE_ENUM, f".caffe.{enum_name}"
            elif kind in _TYPES:
                field.type = _TYPES[kind]
            else:
                field.type, field.type_name = _T.TYPE_MESSAGE, f".caffe.{kind}"
            if default is not None:
                field.default_value = default
            if packed:
                field.options.packed = True
    return fd


@functools.cache
def net_class() -> type[Message]:
    """The message class of ``caffe.NetParameter`` (in a private descriptor pool)."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_descriptor())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("caffe.NetParameter"))


def read_prototxt(path: Path) -> Message:
    """A network description (text format); fields outside the schema (fillers, data sources, ...) are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelNotFoundError(f"Caffe network file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{path}: cannot read: {exc}") from None
    net = net_class()()
    try:
        text_format.Parse(text, net, allow_unknown_field=True)
    except text_format.ParseError as exc:
        where = f"{path}:{exc.GetLine()}" if exc.GetLine() else str(path)
        raise ModelFormatError(f"{where}: not a valid Caffe prototxt: {exc}") from None
    return net


def read_caffemodel(path: Path) -> Message:
    """Trained weights (binary NetParameter)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelNotFoundError(f"Caffe weights file not found: {path}") from None
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    net = net_class()()
    try:
        net.ParseFromString(data)
    except DecodeError as exc:
        raise ModelFormatError(f"{path}: not a Caffe .caffemodel (protobuf NetParameter): {exc}",
                               hint="the file may be truncated; copy it again") from None
    return net
