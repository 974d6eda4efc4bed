"""Labels for the local Rekognition's DetectLabels: the bundled COCO detector (SSD-MobileNetV2), its classes
named as Rekognition names them ("Person", "Car", "Mobile Phone"), each with its instances' boxes.

Only the 80 COCO object classes can be answered; scene and concept labels that Rekognition also gives
("Outdoors", "Face", "Clothing") are not."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .bundled import BundledModel

# COCO's 90-id category names (ids without a category are None).
COCO_NAMES = (
    None, "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", None, "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", None, "backpack", "umbrella", None, None, "handbag", "tie", "suitcase",
    "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
    "surfboard", "tennis racket", "bottle", None, "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana",
    "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", None, "dining table", None, None, "toilet", None, "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", None, "book", "clock",
    "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)
# Where Rekognition's label differs from the title-cased COCO name.
_REKOGNITION_NAMES = {"cell phone": "Mobile Phone", "tv": "TV", "sports ball": "Ball", "hair drier": "Hair Dryer"}


def rekognition_name(coco_id: int) -> str | None:
    """Rekognition's name for a COCO category id (None for ids COCO leaves unused)."""
    name = COCO_NAMES[coco_id] if 0 < coco_id < len(COCO_NAMES) else None
    if name is None:
        return None
    return _REKOGNITION_NAMES.get(name) or " ".join(w.capitalize() for w in name.split())


@dataclass(frozen=True)
class Instance:
    """One detected object: Rekognition name, confidence in [0, 1], box as fractions (left, top, width, height)."""

    name: str
    confidence: float
    box: tuple[float, float, float, float]


class LabelModel:
    """SSD-MobileNetV2 COCO, loaded on first use."""

    def __init__(self) -> None:
        self._model = BundledModel("ssd-mobilenet-v2-coco")

    def detect(self, image: np.ndarray, min_confidence: float) -> list[Instance]:
        """Objects in a BGR image scoring at least ``min_confidence`` (0-1), most confident first."""
        rgb = cv2.cvtColor(cv2.resize(image, (300, 300), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        out = self._model.run(rgb[None])  # uint8 NHWC; the graph normalises by itself
        num = int(out["num_detections:0"].reshape(-1)[0])
        boxes = out["detection_boxes:0"].reshape(-1, 4)[:num]      # ymin, xmin, ymax, xmax (normalised)
        classes = out["detection_classes:0"].reshape(-1)[:num].astype(int)
        scores = out["detection_scores:0"].reshape(-1)[:num]
        found = []
        for (y0, x0, y1, x1), cls, score in zip(boxes, classes, scores, strict=True):
            name = rekognition_name(int(cls))
            if name is None or score < min_confidence:
                continue
            x0, y0, x1, y1 = (float(np.clip(v, 0, 1)) for v in (x0, y0, x1, y1))
            found.append(Instance(name, float(score), (x0, y0, x1 - x0, y1 - y0)))
        return sorted(found, key=lambda i: i.confidence, reverse=True)
