"""SSD-MobileNetV2 COCO (a TensorFlow Object Detection API frozen graph in OpenVINO IR) run as its raw heads, with
the graph's own postprocessing done in numpy.

The network ends in two heads: ``concat`` (box encodings ty, tx, th, tw per anchor, [1, anchors, 1, 4]) and
``concat_1`` (class logits, background first, [1, anchors, 1 + classes]). The graph then decodes the boxes against
its anchors (Faster R-CNN box coder), turns logits into sigmoid scores, drops the background and, in a Loop, clips
boxes to the image window and runs per-class non-maximum suppression: ~110 MB when OpenVINO compiles it.
:func:`postprocess` does the same with every number read from the graph by :func:`read_postprocess`.
:func:`load_heads` derives the heads graph and those numbers once and keeps them beside the IR
(``<name>.heads.xml`` + ``.bin``, ``<name>.ssd.npz``), so later starts never read the full graph.
"""

from __future__ import annotations

import logging
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import openvino as ov

log = logging.getLogger(__name__)

BOX_HEAD, CLASS_HEAD = "concat", "concat_1"
ANCHORS = "Postprocessor/Tile"                   # the anchors [1, anchors, 4] (ymin, xmin, ymax, xmax)
CLIP_WINDOW = "Postprocessor/stack_1"            # [1, 4]: 0, 0, true height / input height, true width / width
CODER_SCALES = tuple(f"Postprocessor/Decode/div{s}" for s in ("", "_1", "_2", "_3"))  # ty, tx, th, tw x 1/scale
SCORES, BACKGROUND = "Postprocessor/convert_scores", "Postprocessor/Slice"
LABEL_OFFSET, NUM_TOTAL = "add", "detection_scores:0"
IMAGE, PREPROCESSED = "ToFloat", "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3"  # the resize Loop's ends
DERIVED_VERSION = 2


@dataclass(frozen=True)
class SsdPostprocess:
    """What the graph's postprocessing does, as numbers."""

    anchors: np.ndarray          # [anchors, 4] ymin, xmin, ymax, xmax (normalised)
    code_scales: np.ndarray      # [4] multipliers of ty, tx, th, tw (1 / the box coder's scale factors)
    clip_window: np.ndarray      # [4] ymin, xmin, ymax, xmax
    background: int              # leading logit columns dropped (the background class)
    label_offset: int            # added to the class index (after dropping the background) to make the label
    score_threshold: float       # a class score must exceed it
    iou_threshold: float         # a box overlapping a kept box of its class by more is suppressed
    max_per_class: int
    max_total: int


@dataclass(frozen=True)
class Detections:
    """Kept boxes, highest score first."""

    boxes: np.ndarray   # [n, 4] ymin, xmin, ymax, xmax, clipped to the window
    scores: np.ndarray  # [n]
    labels: np.ndarray  # [n] int: COCO 90-id categories for this model


@dataclass(frozen=True)
class SsdHeads:
    """The graph to compile (outputs: box encodings, class logits), what to do with its outputs, the IR
    weights file the graph's constants are mapped from, and the heads' own IR file (None when not saved)."""

    graph: ov.Model
    postprocess: SsdPostprocess
    weights: Path
    saved: Path | None = None


# --- the numpy postprocessing -------------------------------------------------------------------------------

def decode_boxes(codes: np.ndarray, anchors: np.ndarray, code_scales: np.ndarray) -> np.ndarray:
    """Faster R-CNN box coder: [n, 4] (ty, tx, th, tw) against anchors -> [n, 4] ymin, xmin, ymax, xmax."""
    t = codes.reshape(-1, 4).astype(np.float32) * code_scales
    height, width = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    yc = t[:, 0] * height + (anchors[:, 0] + height * np.float32(0.5))
    xc = t[:, 1] * width + (anchors[:, 1] + width * np.float32(0.5))
    half_h = np.exp(t[:, 2]) * height * np.float32(0.5)
    half_w = np.exp(t[:, 3]) * width * np.float32(0.5)
    return np.stack([yc - half_h, xc - half_w, yc + half_h, xc + half_w], axis=1)


def select(boxes: np.ndarray, classes: np.ndarray, iou_threshold: float, max_per_class: int,
           max_total: int) -> np.ndarray:
    """Per-class greedy non-maximum suppression of candidates given best first: indices kept, best first.

    A candidate is dropped when its IoU with a kept box of its class exceeds the threshold (OpenVINO's
    NonMaxSuppression) or when its class already has ``max_per_class``; selection ends at ``max_total``. Taking
    candidates in one global order gives what per-class NMS followed by a stable sort on score gives."""
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    by_class = np.argsort(classes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(classes[by_class]) != 0])
    members = dict(zip(classes[by_class[starts]].tolist(), np.split(by_class, starts[1:]), strict=True))
    alive = np.ones(len(boxes), dtype=bool)
    kept: list[int] = []
    count: dict[int, int] = {}
    i = 0
    while len(kept) < max_total:
        i += int(np.argmax(alive[i:]))  # the best candidate left (every one before it is kept or dropped)
        if not alive[i]:
            break
        alive[i] = False
        kept.append(i)
        c = int(classes[i])
        count[c] = count.get(c, 0) + 1
        rest = members[c][alive[members[c]]]
        if count[c] >= max_per_class:
            alive[rest] = False
            continue
        b, o = boxes[i], boxes[rest]
        inter = (np.maximum(np.minimum(b[2], o[:, 2]) - np.maximum(b[0], o[:, 0]), 0)
                 * np.maximum(np.minimum(b[3], o[:, 3]) - np.maximum(b[1], o[:, 1]), 0))
        alive[rest[inter / (area[i] + area[rest] - inter) > iou_threshold]] = False  # IoU above the threshold
    return np.asarray(kept, dtype=np.int64)


def postprocess(box_codes: np.ndarray, class_logits: np.ndarray, p: SsdPostprocess) -> Detections:
    """The graph's detection outputs from its two heads (one image)."""
    boxes = decode_boxes(box_codes, p.anchors, p.code_scales)
    lo, hi = p.clip_window[:2], p.clip_window[2:]
    boxes = np.maximum(np.minimum(boxes, np.tile(hi, 2)), np.tile(lo, 2))
    inside = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) > 0  # boxes clipped away are dropped
    logits = class_logits.reshape(len(boxes), -1)[:, p.background:]
    # Only anchors with a logit near or above the threshold's can score above it: sigmoid those alone.
    near = np.float32(np.log(p.score_threshold / (1.0 - p.score_threshold)) - 1e-3)
    rows = np.flatnonzero(inside & (logits.max(axis=1) > near))
    with np.errstate(over="ignore"):
        scores = 1.0 / (1.0 + np.exp(-logits[rows]))
    row, cls = np.nonzero(scores > p.score_threshold)
    anchor, score = rows[row], scores[row, cls]
    order = np.lexsort((anchor, cls, -score))  # best first; ties: lower class, then lower anchor (as the graph)
    anchor, cls, score = anchor[order], cls[order], score[order]
    kept = select(boxes[anchor], cls, p.iou_threshold, p.max_per_class, p.max_total)
    return Detections(boxes[anchor[kept]], score[kept].astype(np.float32), cls[kept].astype(np.int64) + p.label_offset)


# --- reading the graph ---------------------------------------------------------------------------------------

def _ops(graph: ov.Model) -> dict[str, ov.Node]:
    return {op.get_friendly_name(): op for op in graph.get_ordered_ops()}


def _constant(node: ov.Node, port: int | None = None) -> np.ndarray:
    """The value of a Constant node, or of the Constant input of ``node`` (the one at ``port`` if given)."""
    if node.get_type_name() == "Constant":
        return node.get_data().copy()
    ports = [port] if port is not None else range(node.get_input_size())
    for i in ports:
        source = node.input(i).get_source_output().get_node()
        if source.get_type_name() == "Constant":
            return source.get_data().copy()
    raise ValueError(f"{node.get_friendly_name()} has no constant input")


def _scalar(node: ov.Node, port: int | None = None) -> float:
    value = _constant(node, port).reshape(-1)
    if value.size != 1:
        raise ValueError(f"{node.get_friendly_name()}: expected a scalar constant, got {value.size} values")
    return float(value[0])


def _nms_body(graph: ov.Model) -> list[ov.Node]:
    for op in graph.get_ordered_ops():
        if op.get_type_name() == "Loop":
            body = op.get_function().get_ordered_ops()
            if any(b.get_type_name() == "NonMaxSuppression" for b in body):
                return body
    raise ValueError("no Loop with NonMaxSuppression (not a TF Object Detection API SSD)")


def _one(values: list[float], what: str) -> float:  # the one value all the Loop's 90 branches share
    if not values or any(v != values[0] for v in values):
        raise ValueError(f"expected one {what}, found {sorted(set(values))}")
    return values[0]


def read_postprocess(graph: ov.Model, core: ov.Core | None = None) -> SsdPostprocess:
    """The postprocessing numbers of a TF Object Detection API SSD graph (raises ValueError if it is not one)."""
    ops = _ops(graph)
    missing = [n for n in (BOX_HEAD, CLASS_HEAD, ANCHORS, CLIP_WINDOW, SCORES, BACKGROUND, LABEL_OFFSET,
                           *CODER_SCALES) if n not in ops]
    if missing:
        raise ValueError(f"not a TF Object Detection API SSD graph: no {', '.join(missing)}")
    if ops[SCORES].get_type_name() != "Sigmoid":
        raise ValueError(f"{SCORES} is {ops[SCORES].get_type_name()}, only sigmoid scores are supported")
    # The anchor generator and the clip window depend on the input's shape only: compute them once.
    probe = ov.Model([ops[ANCHORS].output(0), ops[CLIP_WINDOW].output(0)], graph.get_parameters(), "ssd-constants")
    compiled = (core or ov.Core()).compile_model(probe, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "CACHE_DIR": ""})
    zeros = np.zeros(tuple(graph.input(0).get_shape()), dtype=graph.input(0).get_element_type().to_dtype())
    anchors, window = (np.array(v, dtype=np.float32) for v in compiled(zeros).values())
    body = _nms_body(graph)
    suppressors = [op for op in body if op.get_type_name() == "NonMaxSuppression"]
    for op in suppressors:
        extra = [_scalar(op, i) for i in range(4, op.get_input_size())]  # score threshold, soft-NMS sigma
        if any(extra):
            raise ValueError(f"{op.get_friendly_name()}: a score threshold or soft NMS inside the NMS is not supported")
    filters = [op for op in body if op.get_type_name() == "Greater" and "FilterGreaterThan" in op.get_friendly_name()]
    total = graph.output(NUM_TOTAL).get_partial_shape()
    return SsdPostprocess(
        anchors=anchors.reshape(-1, 4),
        code_scales=np.array([_scalar(ops[n]) for n in CODER_SCALES], dtype=np.float32),
        clip_window=window.reshape(4),
        background=int(_constant(ops[BACKGROUND], 1).reshape(-1)[-1]),
        label_offset=int(_scalar(ops[LABEL_OFFSET])),
        score_threshold=_one([_scalar(op, 1) for op in filters], "score threshold"),
        iou_threshold=_one([_scalar(op, 3) for op in suppressors], "IoU threshold"),
        max_per_class=int(_one([_scalar(op.input(2).get_source_output().get_node())
                                for op in suppressors], "per-class limit")),
        max_total=total[total.rank.get_length() - 1].get_length(),
    )


def _resize_is_identity(ops: dict[str, ov.Node]) -> bool:
    """Does the preprocessor's resize Loop give back its input (the input already has the resized size)?"""
    if IMAGE not in ops or PREPROCESSED not in ops:
        return False
    image, resized = ops[IMAGE].output(0).get_partial_shape(), ops[PREPROCESSED].output(0).get_partial_shape()
    loop = ops[PREPROCESSED].input(0).get_source_output().get_node().input(0).get_source_output().get_node()
    if image.is_dynamic or image != resized or loop.get_type_name() != "Loop":
        return False
    resizes = [op for op in loop.get_function().get_ordered_ops() if op.get_type_name() == "Interpolate"]
    return len(resizes) == 1 and resizes[0].input(0).get_partial_shape() == resizes[0].output(0).get_partial_shape()


def heads_graph(graph: ov.Model) -> ov.Model:
    """The graph cut at its two heads: outputs box encodings [1, anchors, 1, 4] and class logits.

    When the input already has the size the preprocessor resizes to, its resize Loop (an identity then) is
    left out: the network reads the image directly. That rewires ``graph`` itself: read it before."""
    ops = _ops(graph)
    if _resize_is_identity(ops):
        for target in list(ops[PREPROCESSED].output(0).get_target_inputs()):
            target.replace_source_output(ops[IMAGE].output(0))
    return ov.Model([ops[BOX_HEAD].output(0), ops[CLASS_HEAD].output(0)], graph.get_parameters(), "ssd-heads")


# --- derived files beside the IR -----------------------------------------------------------------------------

def _derived(xml: Path) -> tuple[Path, Path]:
    return xml.with_name(f"{xml.stem}.heads.xml"), xml.with_name(f"{xml.stem}.ssd.npz")


def _source_key(xml: Path) -> np.ndarray:
    stats = [xml.stat(), xml.with_suffix(".bin").stat()]
    return np.array([DERIVED_VERSION, *(v for s in stats for v in (s.st_size, s.st_mtime_ns))], dtype=np.int64)


def _read_derived(core: ov.Core, xml: Path) -> SsdHeads | None:
    heads_xml, npz = _derived(xml)
    heads_bin = heads_xml.with_suffix(".bin")
    try:
        with np.load(npz, allow_pickle=False) as data:
            saved = {k: data[k] for k in data.files}
        if not np.array_equal(saved.pop("source"), _source_key(xml)) or \
                int(saved.pop("heads_bin_size")) != heads_bin.stat().st_size:
            return None
        p = SsdPostprocess(**{k: v.item() if v.ndim == 0 else v for k, v in saved.items()})
        graph = core.read_model(str(heads_xml))
        (_, *box_shape), (_, classes_anchors, _) = (o.get_partial_shape().get_min_shape() for o in graph.outputs)
    except (OSError, EOFError, ValueError, KeyError, TypeError, RuntimeError, zipfile.BadZipFile):
        return None  # missing, stale or damaged: derived again
    if box_shape != [len(p.anchors), 1, 4] or classes_anchors != len(p.anchors):
        return None
    return SsdHeads(graph, p, heads_bin, heads_xml)


def _write_derived(xml: Path, heads: SsdHeads) -> None:
    heads_xml, npz = _derived(xml)
    tmp_xml = heads_xml.with_name(f".{heads_xml.stem}.{os.getpid()}.xml")
    tmp_npz = npz.with_name(f".{npz.stem}.{os.getpid()}.npz")
    try:
        ov.save_model(heads.graph, str(tmp_xml), compress_to_fp16=False)
        os.replace(tmp_xml.with_suffix(".bin"), heads_xml.with_suffix(".bin"))
        os.replace(tmp_xml, heads_xml)
        np.savez(tmp_npz, source=_source_key(xml), heads_bin_size=heads_xml.with_suffix(".bin").stat().st_size,
                 **asdict(heads.postprocess))
        os.replace(tmp_npz, npz)  # last: its presence says the heads files are complete
    finally:
        for tmp in (tmp_xml, tmp_xml.with_suffix(".bin"), tmp_npz):
            tmp.unlink(missing_ok=True)


def load_heads(core: ov.Core, xml: Path) -> SsdHeads:
    """The heads graph and postprocessing of the TF OD API SSD IR at ``xml``: read from the files derived beside
    it, or derived from the full graph now (and saved for the next start when the folder is writable)."""
    xml = Path(xml)
    heads = _read_derived(core, xml)
    if heads is not None:
        return heads
    log.info("deriving the raw heads and postprocessing of %s (once)", xml.name)
    graph = core.read_model(str(xml))
    numbers = read_postprocess(graph, core)  # before heads_graph rewires the graph
    heads = SsdHeads(heads_graph(graph), numbers, xml.with_suffix(".bin"))
    try:
        _write_derived(xml, heads)
    except (OSError, RuntimeError) as exc:
        log.warning("could not save the derived heads of %s beside it (%s): derived again next start", xml.name, exc)
        return heads
    return _read_derived(core, xml) or heads  # the saved heads alone, without the full graph behind them
