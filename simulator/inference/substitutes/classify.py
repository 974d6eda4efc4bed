"""The classification samples, answered by EfficientNet-Lite3 (ImageNet-1000, the same indices as the device's
SqueezeNet: 934 = hot dog):

* ``mxnet_squeezenet.xml`` (hot dog / not hot dog): the 1000 ImageNet probabilities;
* ``mxnet_resnet18-catsvsdogs_FP32_FUSED.xml``: the same probabilities folded into {0: dog, 1: cat}.

The bundled tflite has exactly 1000 outputs aligned with ImageNet-1000 (no background class at 0: its labels
file starts with "tench" and line 934 is "hotdog"); its uint8 scores are cast to float and renormalised.
"""

from __future__ import annotations

import numpy as np

from .base import SubstituteModel, probabilities

HOT_DOG = 934
DOGS = range(151, 269)   # ImageNet 151 Chihuahua ... 268 Mexican hairless
CATS = range(281, 286)   # 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat


class ImageNetClassifier(SubstituteModel):
    """A 224x224 ImageNet-1000 classifier: the output is 1000 probabilities summing to 1."""

    output_name = "prob"
    output_shape = (1, 1000)

    def __init__(self, name: str, core, device: str, config: dict, input_hw=(224, 224)):
        super().__init__(name, input_hw, "efficientnet-lite3", core, device, config)

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        return self.rgb(frame)[None]  # uint8 NHWC RGB 280x280, normalised inside the quantised graph

    def _answer(self, outputs: list[np.ndarray]) -> np.ndarray:
        return probabilities(outputs[0])


def fold_cats_dogs(probs: np.ndarray) -> np.ndarray:
    """ImageNet probabilities -> [p(dog), p(cat)], renormalised to sum to 1 (0.5 each when neither is seen)."""
    p = np.asarray(probs, dtype=np.float32).reshape(-1)
    folded = np.array([p[DOGS.start:DOGS.stop].sum(), p[CATS.start:CATS.stop].sum()], dtype=np.float32)
    total = float(folded.sum())
    return folded / total if total > 0 else np.full(2, 0.5, dtype=np.float32)


class CatsVsDogs(ImageNetClassifier):
    """A 224x224 two-class classifier {0: dog, 1: cat}."""

    output_name = "softmax"
    output_shape = (1, 2)

    def _answer(self, outputs: list[np.ndarray]) -> np.ndarray:
        return fold_cats_dogs(probabilities(outputs[0]))
