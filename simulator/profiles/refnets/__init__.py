"""Reference networks built with ``openvino.opset13`` and zero weights (for counting costs, not for accuracy).

The published latency figures (``simulator/profiles/published.yaml``) name these networks; their cost
(operations, shapes, weights) does not depend on weight values, so the builders reproduce the architectures of
the benchmark model files exactly (BatchNorm folded into a per-channel bias, as in any deployed graph)::

    graph = REFERENCE_NETS["mobilenet_v2"]()        # openvino.Model, input [1, 3, 224, 224]
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import openvino as ov

from simulator.profiles.refnets.classic import (
    alexnet,
    densenet121,
    googlenet,
    inception_v3,
    resnet18,
    resnet50,
    squeezenet,
    vgg16,
)
from simulator.profiles.refnets.compact import (
    blazeface,
    efficientnetv2_b0,
    proxylessnas,
    regnety_400m,
    shufflenet_v1,
)
from simulator.profiles.refnets.detectors import (
    mobilenet_ssd,
    mobilenet_yolo,
    squeezenet_ssd,
    ssd_mobilenet_v1_coco,
    ssdlite_mobilenet_v2,
    yolov3_tiny,
    yolov4_tiny,
)
from simulator.profiles.refnets.mobile import (
    efficientnet_b0,
    mnasnet,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3,
    shufflenet_v2,
)
from simulator.profiles.refnets.ncnn_detectors import (
    fastestdet,
    mobilenetv2_yolov3,
    nanodet_m,
    yolo_fastest_1_1,
    yolo_fastest_v2,
)
from simulator.profiles.refnets.vit import bert_base, vit_b32

REFERENCE_NETS: dict[str, Callable[[], ov.Model]] = {
    "mobilenet_v1": mobilenet_v1,
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3": mobilenet_v3,  # Large, as ncnn's benchmark model
    "mnasnet": mnasnet,
    "shufflenet_v2": shufflenet_v2,
    "efficientnet_b0": efficientnet_b0,
    "resnet18": resnet18,
    "resnet50": resnet50,  # Caffe placement of the stride (ncnn's benchmark model)
    "resnet50_v1_5": partial(resnet50, stride_in_1x1=False),  # torchvision / Open Model Zoo
    "vgg16": vgg16,
    "alexnet": alexnet,
    "googlenet": googlenet,
    "inception_v3": inception_v3,
    "densenet121": densenet121,
    "squeezenet": squeezenet,
    "squeezenet_ssd": squeezenet_ssd,
    "mobilenet_ssd": mobilenet_ssd,
    "ssd_mobilenet_v1_coco": ssd_mobilenet_v1_coco,
    "ssdlite_mobilenet_v2": ssdlite_mobilenet_v2,
    "yolov3_tiny": yolov3_tiny,
    "yolov4_tiny": yolov4_tiny,
    "vit_b32": vit_b32,
    "bert_base": bert_base,
    "shufflenet_v1": shufflenet_v1,  # 1.0x, 3 groups, as ncnn's benchmark model
    "proxylessnas": proxylessnas,  # mobile
    "regnety_400m": regnety_400m,
    "efficientnetv2_b0": efficientnetv2_b0,
    "blazeface": blazeface,  # backbone only, 128x128, as ncnn's benchmark model
    "mobilenet_yolo": mobilenet_yolo,
    "mobilenetv2_yolov3": mobilenetv2_yolov3,  # VOC, 352, as ncnn's benchmark model
    "nanodet_m": nanodet_m,  # 320
    "yolo_fastest_1_1": yolo_fastest_1_1,  # 320
    "yolo_fastest_v2": yolo_fastest_v2,  # 352
    "fastestdet": fastestdet,  # 352
}

__all__ = ["REFERENCE_NETS", "alexnet", "bert_base", "blazeface", "densenet121", "efficientnet_b0", "efficientnetv2_b0",
           "fastestdet", "googlenet", "inception_v3", "mnasnet", "mobilenet_ssd", "mobilenet_v1", "mobilenet_v2",
           "mobilenet_v3", "mobilenet_yolo", "mobilenetv2_yolov3", "nanodet_m", "proxylessnas", "regnety_400m",
           "resnet18", "resnet50", "shufflenet_v1", "shufflenet_v2", "squeezenet", "squeezenet_ssd",
           "ssd_mobilenet_v1_coco", "ssdlite_mobilenet_v2", "vgg16", "vit_b32", "yolo_fastest_1_1", "yolo_fastest_v2",
           "yolov3_tiny", "yolov4_tiny"]
