"""Stand-ins for the official DeepLens samples' models, whose weights are gone.

Keyed by the model file name the sample Lambdas load (``/opt/awscam/artifacts/<file>``). Each substitute runs a
bundled model with the same label space and returns the original model's output layout, at the original
model's input size, so the sample Lambdas and the generic ``parseResult`` work unchanged.

Bundled models can also be named directly in a Lambda: ``awscam.Model('/opt/awscam/artifacts/movenet-lightning.xml')``
resolves through :func:`find_bundled` to that model's IR in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..registry import registry
from ..store import ensure_model

__all__ = ["Substitute", "find_substitute", "find_bundled", "list_substitutes"]


@dataclass(frozen=True)
class Substitute:
    """Which bundled model answers for which device model file, and how to load it."""

    original: str           # the file name the Lambda loads
    model_name: str         # the store name of the bundled model that answers
    description: str        # one line for the log
    input_hw: tuple[int, int]
    _factory: Callable

    def load(self, core, device: str, config: dict):
        """Compile the bundled model on ``device`` with ``config`` (CACHE_DIR defaults to the store's OpenVINO
        cache) and return an InferenceModel named after the original file. Fetches the model if needed."""
        return self._factory(self.original, core, device, dict(config or {}), input_hw=self.input_hw)


def _table() -> dict[str, Substitute]:
    from .classify import CatsVsDogs, ImageNetClassifier
    from .detection import VocSsdFromCoco
    from .face import FaceSsdFromBlazeFace

    rows = [
        ("mxnet_deploy_ssd_resnet50_300_FP16_FUSED.xml", "ssd-mobilenet-v2-coco", (300, 300), VocSsdFromCoco,
         "remapped to the 20 VOC labels (COCO classes with no VOC twin dropped)"),
        ("mxnet_deploy_ssd_FP16_FUSED.xml", "blazeface-short", (300, 300), FaceSsdFromBlazeFace,
         "reported as a one-class SSD (label 1 = face)"),
        ("mxnet_squeezenet.xml", "efficientnet-lite3", (224, 224), ImageNetClassifier,
         "with the same ImageNet-1000 indices (934 = hot dog)"),
        ("mxnet_resnet18-catsvsdogs_FP32_FUSED.xml", "efficientnet-lite3", (224, 224), CatsVsDogs,
         "folded into {0: dog, 1: cat} (ImageNet dogs 151-268, cats 281-285)"),
    ]
    return {
        original: Substitute(original, model, f"{original} is answered by {model} {how}", hw, factory)
        for original, model, hw, factory, how in rows
    }


_SUBSTITUTES: dict[str, Substitute] | None = None


def list_substitutes() -> list[Substitute]:
    global _SUBSTITUTES
    if _SUBSTITUTES is None:
        _SUBSTITUTES = _table()
    return list(_SUBSTITUTES.values())


def find_substitute(file_name: str) -> Substitute | None:
    """The substitute for a device model file (a base name or a full path), or None."""
    base = Path(str(file_name)).name
    for sub in list_substitutes():
        if sub.original == base:
            return sub
    return None


def find_bundled(file_name: str) -> Path | None:
    """``<store name>.xml`` (a base name or full path) -> that bundled model's IR path, fetched if needed.

    None when the name is no bundled model. Raises ModelNotFoundError when it is one but cannot be fetched."""
    path = Path(str(file_name))
    if path.suffix.lower() != ".xml" or path.stem not in registry():
        return None
    return ensure_model(path.stem)
