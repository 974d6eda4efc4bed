"""The object-detection sample's VOC SSD (``mxnet_deploy_ssd_resnet50_300_FP16_FUSED.xml``), answered by
SSD-MobileNetV2 COCO with its classes remapped to the 20 VOC labels (COCO classes with no VOC twin dropped).

OpenVINO runs only the detector's raw heads; its postprocessing (box decoding, per-class NMS) runs in numpy
(``ssd_decode``) with the same results as the whole graph, in ~260 MB less of the Lambda process's memory."""

from __future__ import annotations

import logging

import numpy as np

from ..adapter import OpenVINOModel
from ..mapped import release_weights
from ..store import ensure_model, file_cache_dir
from .base import SSD_ROWS, SubstituteModel, ssd_output
from .ssd_decode import load_heads, postprocess

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

log = logging.getLogger(__name__)
class VocSsdFromCoco(SubstituteModel):
    """A 300x300 VOC SSD whose output is the DetectionOutput [1, 1, 100, 7] of the device model."""

    output_name = "detection"
    output_shape = (1, 1, SSD_ROWS, 7)
    min_confidence = 0.01  # the device's DetectionOutput confidence_threshold

    def __init__(self, name: str, core, device: str, config: dict, input_hw=(300, 300)):
        # Not SubstituteModel.__init__: that compiles the whole graph, this compiles the heads only.
        self.name = name
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self.model_name = "ssd-mobilenet-v2-coco"
        self.output_shapes = {self.output_name: self.output_shape}
        heads = load_heads(core, ensure_model(self.model_name))
        self._post = heads.postprocess
        # The saved heads compile by their path, from a cache of their own (store.file_cache_dir): ~0.2 s instead
        # of ~0.35 s uncached. Compiling the graph into the shared cache is as fast, but then its import peaked
        # ~60 MB higher; by path, the blob's pages are released below like the IR's.
        cache = "" if heads.saved is None else str(file_cache_dir(heads.saved))
        self.net = OpenVINOModel(heads.graph, device, self.model_name, core=core,
                                 config={**(config or {}), "CACHE_DIR": cache}, source=heads.saved)
        self.model_hw = self.net.input_hw
        released = release_weights(heads.weights, cache)
        log.debug("released %d MB of mapped weights", released >> 20)

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        return self.rgb(frame)[None]  # uint8 NHWC RGB; the graph normalises by itself

    def _answer(self, outputs: list[np.ndarray]) -> np.ndarray:
        found = postprocess(outputs[0], outputs[1], self._post)  # COCO labels, ymin, xmin, ymax, xmax
        voc = _LOOKUP[np.clip(found.labels, 0, 255)]
        keep = (voc > 0) & (found.scores >= self.min_confidence)
        return ssd_output(voc[keep], found.scores[keep], found.boxes[keep][:, [1, 0, 3, 2]])
