"""The object-detection sample's VOC SSD (``mxnet_deploy_ssd_resnet50_300_FP16_FUSED.xml``), answered by
SSD-MobileNetV2 COCO with its classes remapped to the 20 VOC labels (COCO classes with no VOC twin dropped)."""

from __future__ import annotations

import numpy as np

from .base import SubstituteModel, ssd_output

VOC_LABELS = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog",
    "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # label i + 1

# COCO 90-id category -> VOC label (1..20). Every VOC class has exactly one COCO twin.
COCO_TO_VOC = {
    5: 1,    # airplane -> aeroplane
    2: 2,    # bicycle
    16: 3,   # bird
    9: 4,    # boat
    44: 5,   # bottle
    6: 6,    # bus
    3: 7,    # car
    17: 8,   # cat
    62: 9,   # chair
    21: 10,  # cow
    67: 11,  # dining table -> diningtable
    18: 12,  # dog
    19: 13,  # horse
    4: 14,   # motorcycle -> motorbike
    1: 15,   # person
    64: 16,  # potted plant -> pottedplant
    20: 17,  # sheep
    63: 18,  # couch -> sofa
    7: 19,   # train
    72: 20,  # tv -> tvmonitor
}

_LOOKUP = np.zeros(256, dtype=np.float32)
for _coco, _voc in COCO_TO_VOC.items():
    _LOOKUP[_coco] = _voc


def _output_index(graph, tensor_name: str) -> int:
    for i, out in enumerate(graph.outputs):
        if tensor_name in out.get_names():
            return i
    raise RuntimeError(f"the detector has no output {tensor_name!r}")


class VocSsdFromCoco(SubstituteModel):
    """A 300x300 VOC SSD whose output is the DetectionOutput [1, 1, 100, 7] of the device model."""

    output_name = "detection"
    min_confidence = 0.01  # the device's DetectionOutput confidence_threshold

    def __init__(self, name: str, core, device: str, config: dict, input_hw=(300, 300)):
        super().__init__(name, input_hw, "ssd-mobilenet-v2-coco", core, device, config)
        g = self.graph
        self._idx = {k: _output_index(g, f"detection_{k}:0") for k in ("boxes", "classes", "scores")}
        self._idx["num"] = _output_index(g, "num_detections:0")

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        return self.rgb(frame)[None]  # uint8 NHWC RGB; the graph normalises by itself

    def _answer(self, outputs: list[np.ndarray]) -> np.ndarray:
        num = int(outputs[self._idx["num"]].reshape(-1)[0])
        boxes = outputs[self._idx["boxes"]].reshape(-1, 4)[:num]  # ymin, xmin, ymax, xmax (normalised)
        coco = outputs[self._idx["classes"]].reshape(-1)[:num].astype(np.int64)
        scores = outputs[self._idx["scores"]].reshape(-1)[:num]
        voc = _LOOKUP[np.clip(coco, 0, 255)]
        keep = (voc > 0) & (scores >= self.min_confidence)
        xyxy = boxes[keep][:, [1, 0, 3, 2]]
        return ssd_output(voc[keep], scores[keep], xyxy)
