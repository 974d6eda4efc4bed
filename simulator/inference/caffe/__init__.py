"""Caffe deploy networks without Caffe: ``.prototxt`` + ``.caffemodel`` read through a protobuf schema built in
Python, converted to an ``openvino.Model``.

Layers: Input, Convolution (groups, dilation), Deconvolution, Pooling (MAX/AVE, global, Caffe's ceil rounding
and padding rule), InnerProduct, BatchNorm, Scale, Bias, Eltwise (SUM with coefficients, PROD, MAX), Concat,
Flatten, ReLU (leaky), PReLU, ELU, Sigmoid, TanH, AbsVal, BNLL, LRN (across channels), Softmax, Dropout, Split;
new-style (``layer``) and V1 (``layers``) files.
"""

from __future__ import annotations

from simulator.inference.caffe.graph import build_caffe, convert_caffe, find_caffe_pair, read_caffe
from simulator.inference.caffe.schema import net_class, read_caffemodel, read_prototxt
from simulator.inference.mxnet.errors import ModelFormatError

__all__ = ["ModelFormatError", "build_caffe", "convert_caffe", "find_caffe_pair", "net_class", "read_caffe",
           "read_caffemodel", "read_prototxt"]
