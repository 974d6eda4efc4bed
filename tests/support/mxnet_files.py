"""Write MXNet model files from numpy, byte for byte as MXNet's ``mx.nd.save`` / ``Symbol.save`` do, so tests need
no MXNet: ``write_params`` (NDArray list, v1/v2/v3/legacy array headers, sparse storage) and ``SymbolBuilder``.

Also two small networks with random weights: a ResNet-style classifier and an SSD with MultiBoxPrior /
MultiBoxDetection (``resnet_classifier``, ``ssd_detector``), returned as (symbol JSON dict, params, aux names),
and numpy transcriptions of MXNet's MultiBoxPrior / MultiBoxDetection CPU loops (``ref_prior``, ``ref_detection``)
to check a converted SSD against.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

DTYPE_FLAGS = {np.dtype(np.float32): 0, np.dtype(np.float64): 1, np.dtype(np.float16): 2, np.dtype(np.uint8): 3,
               np.dtype(np.int32): 4, np.dtype(np.int8): 5, np.dtype(np.int64): 6}
MAGIC = {"v1": 0xF993FAC8, "v2": 0xF993FAC9, "v3": 0xF993FACA}


def _shape(dims, ndim_fmt: str = "<i") -> bytes:
    return struct.pack(ndim_fmt, len(dims)) + struct.pack(f"<{len(dims)}q", *dims)


def array_bytes(array: np.ndarray, version: str = "v2", sparse: str | None = None) -> bytes:
    """One NDArray as ``NDArray::Save`` writes it (``sparse``: 'row_sparse' or 'csr', v2/v3 only)."""
    array = np.asarray(array, order="C")  # (ascontiguousarray would turn a 0-d array into 1-d)
    flag = DTYPE_FLAGS[array.dtype]
    ctx = struct.pack("<ii", 1, 0)  # cpu(0)
    data = array.astype(array.dtype.newbyteorder("<")).tobytes()
    if version == "legacy":
        return struct.pack("<I", array.ndim) + struct.pack(f"<{array.ndim}I", *array.shape) + ctx + \
            struct.pack("<i", flag) + data
    if version == "v1":
        return struct.pack("<I", MAGIC["v1"]) + _shape(array.shape, "<I") + ctx + struct.pack("<i", flag) + data
    head = struct.pack("<I", MAGIC[version])
    if sparse is None:
        return head + struct.pack("<i", 0) + _shape(array.shape) + ctx + struct.pack("<i", flag) + data
    if sparse == "row_sparse":
        rows = np.nonzero(np.any(array.reshape(array.shape[0], -1) != 0, axis=1))[0].astype(np.int64)
        values = array[rows]
        return (head + struct.pack("<i", 1) + _shape(values.shape) + _shape(array.shape) + ctx
                + struct.pack("<i", flag) + struct.pack("<i", 6) + _shape(rows.shape) + values.tobytes()
                + rows.tobytes())
    indptr, cols, values = [0], [], []
    for row in array:
        nz = np.nonzero(row)[0]
        cols.extend(nz)
        values.extend(row[nz])
        indptr.append(len(cols))
    indptr_a, cols_a = np.asarray(indptr, np.int64), np.asarray(cols, np.int64)
    values_a = np.asarray(values, array.dtype)
    return (head + struct.pack("<i", 2) + _shape(values_a.shape) + _shape(array.shape) + ctx + struct.pack("<i", flag)
            + struct.pack("<i", 6) + _shape(indptr_a.shape) + struct.pack("<i", 6) + _shape(cols_a.shape)
            + values_a.tobytes() + indptr_a.tobytes() + cols_a.tobytes())


def params_bytes(arrays: dict[str, np.ndarray], aux: set[str] | frozenset[str] = frozenset(), version: str = "v2",
                 sparse: dict[str, str] | None = None, names: bool = True) -> bytes:
    out = struct.pack("<QQQ", 0x112, 0, len(arrays))
    for key, value in arrays.items():
        out += array_bytes(value, version, (sparse or {}).get(key))
    if not names:
        return out + struct.pack("<Q", 0)
    out += struct.pack("<Q", len(arrays))
    for key in arrays:
        name = (f"aux:{key}" if key in aux else f"arg:{key}").encode()
        out += struct.pack("<Q", len(name)) + name
    return out


def write_params(path: Path, arrays: dict[str, np.ndarray], aux: set[str] | frozenset[str] = frozenset(),
                 version: str = "v2", sparse: dict[str, str] | None = None) -> Path:
    Path(path).write_bytes(params_bytes(arrays, aux, version, sparse))
    return Path(path)


def _attr(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_attr(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


class SymbolBuilder:
    """Nodes in topological order, as ``Symbol.tojson()`` lists them; references are ``(node, output)``."""

    def __init__(self) -> None:
        self.nodes: list[dict] = []
        self.arg_nodes: list[int] = []

    def var(self, name: str, **attrs) -> tuple[int, int]:
        self.arg_nodes.append(len(self.nodes))
        node = {"op": "null", "name": name, "inputs": []}
        if attrs:
            node["attrs"] = {k: _attr(v) for k, v in attrs.items()}
        self.nodes.append(node)
        return len(self.nodes) - 1, 0

    def op(self, op: str, name: str, inputs, **attrs) -> tuple[int, int]:
        node = {"op": op, "name": name, "inputs": [[i, o, 0] for i, o in inputs]}
        if attrs:
            node["attrs"] = {k: _attr(v) for k, v in attrs.items()}
        self.nodes.append(node)
        return len(self.nodes) - 1, 0

    def json(self, heads, legacy: bool = False) -> dict:
        nodes = json.loads(json.dumps(self.nodes))
        if legacy:  # MXNet < 0.9: "param" and [node, output] inputs
            for node in nodes:
                node["param"] = node.pop("attrs", {})
                node["inputs"] = [entry[:2] for entry in node["inputs"]]
                node["backward_source_id"] = -1
            return {"nodes": nodes, "arg_nodes": self.arg_nodes, "heads": [[i, o] for i, o in heads]}
        return {"nodes": nodes, "arg_nodes": self.arg_nodes, "node_row_ptr": list(range(len(nodes) + 1)),
                "heads": [[i, o, 0] for i, o in heads], "attrs": {"mxnet_version": ["int", 10901]}}


def write_symbol(path: Path, symbol: dict) -> Path:
    Path(path).write_text(json.dumps(symbol, indent=2), encoding="utf-8")
    return Path(path)


def write_checkpoint(folder: Path, prefix: str, symbol: dict, params: dict[str, np.ndarray], aux=frozenset(),
                     epoch: int = 0) -> tuple[Path, Path]:
    """``PREFIX-symbol.json`` + ``PREFIX-NNNN.params`` as ``Module.save_checkpoint`` names them."""
    folder.mkdir(parents=True, exist_ok=True)
    return (write_symbol(folder / f"{prefix}-symbol.json", symbol),
            write_params(folder / f"{prefix}-{epoch:04d}.params", params, aux))


class _Net:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.s = SymbolBuilder()
        self.params: dict[str, np.ndarray] = {}
        self.aux: set[str] = set()

    def param(self, name: str, shape, scale: float = 0.3, positive: bool = False, aux: bool = False):
        value = self.rng.uniform(0.5, 1.5, shape) if positive else self.rng.normal(0.0, scale, shape)
        self.params[name] = value.astype(np.float32)
        if aux:
            self.aux.add(name)
        return self.s.var(name)

    def conv(self, x, name: str, cin: int, cout: int, kernel=3, stride=1, pad=1, groups=1, bias=True, dilate=1):
        w = self.param(f"{name}_weight", (cout, cin // groups, kernel, kernel), scale=(2 / (cin * kernel ** 2)) ** .5)
        inputs = [x, w] + ([self.param(f"{name}_bias", (cout,), 0.1)] if bias else [])
        return self.s.op("Convolution", name, inputs, kernel=(kernel, kernel), stride=(stride, stride),
                         pad=(pad, pad), dilate=(dilate, dilate), num_filter=cout, num_group=groups, no_bias=not bias)

    def bn(self, x, name: str, channels: int, fix_gamma: bool, eps: float = 1e-5):
        inputs = [x, self.param(f"{name}_gamma", (channels,), positive=True),
                  self.param(f"{name}_beta", (channels,), 0.2),
                  self.param(f"{name}_moving_mean", (channels,), 0.2, aux=True),
                  self.param(f"{name}_moving_var", (channels,), positive=True, aux=True)]
        return self.s.op("BatchNorm", name, inputs, eps=eps, fix_gamma=fix_gamma, use_global_stats=False)


def resnet_classifier(seed: int = 0, classes: int = 10):
    """data [1, 3, 32, 32] → bn_data (fix_gamma) → conv/bn/relu → max pool (full) → residual block → depthwise +
    pointwise conv → avg pool → global avg pool → FC → SoftmaxOutput ``softmax``."""
    n = _Net(seed)
    s = n.s
    x = s.var("data")
    x = n.bn(x, "bn_data", 3, fix_gamma=True, eps=2e-5)
    x = n.conv(x, "conv0", 3, 8, stride=2, bias=False)
    x = s.op("Activation", "relu0", [n.bn(x, "bn0", 8, fix_gamma=False)], act_type="relu")
    pool = s.op("Pooling", "pool0", [x], kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max",
                pooling_convention="full")
    y = s.op("Activation", "relu1", [n.bn(n.conv(pool, "conv1", 8, 8), "bn1", 8, False)], act_type="relu")
    y = n.bn(n.conv(y, "conv2", 8, 8, bias=False, dilate=2, pad=2), "bn2", 8, False)
    x = s.op("Activation", "relu2", [s.op("elemwise_add", "_plus0", [pool, y])], act_type="relu")
    x = n.conv(x, "dw3", 8, 8, groups=8)
    x = s.op("LeakyReLU", "leaky3", [n.conv(x, "pw3", 8, 16, kernel=1, pad=0)], act_type="leaky", slope=0.1)
    x = s.op("Pooling", "pool3", [x], kernel=(2, 2), stride=(2, 2), pool_type="avg", pad=(1, 1),
             count_include_pad=False)
    x = s.op("Pooling", "gpool", [x], kernel=(1, 1), global_pool=True, pool_type="avg")
    x = s.op("Flatten", "flatten0", [x])
    x = s.op("FullyConnected", "fc1", [x, n.param("fc1_weight", (classes, 16)), n.param("fc1_bias", (classes,))],
             num_hidden=classes)
    out = s.op("SoftmaxOutput", "softmax", [x, s.var("softmax_label")])
    return s.json([out]), n.params, n.aux


SSD_LAYERS = ({"sizes": (0.2, 0.3), "ratios": (1.0, 2.0, 0.5)}, {"sizes": (0.5, 0.7), "ratios": (1.0, 2.0)})


def ssd_detector(seed: int = 0, classes: int = 3, nms_threshold: float = 0.45, nms_topk: int = -1,
                 force_suppress: bool = False, threshold: float = 0.01, training: bool = False):
    """data [1, 3, 64, 64] → two feature maps (16×16, 8×8) → class/box convolutions → MultiBoxPrior per map →
    MultiBoxDetection ``detection``. ``training`` adds the loss heads a SageMaker training symbol has."""
    n = _Net(seed)
    s = n.s
    x = s.var("data")
    x = s.op("Activation", "relu_a", [n.conv(x, "conv_a", 3, 8, stride=2)], act_type="relu")
    f1 = s.op("Activation", "relu_b", [n.conv(x, "conv_b", 8, 8, stride=2)], act_type="relu")
    f2 = s.op("Activation", "relu_c", [n.conv(f1, "conv_c", 8, 8, stride=2)], act_type="relu")
    cls_flat, loc_flat, anchors = [], [], []
    for i, (feat, layer) in enumerate(zip((f1, f2), SSD_LAYERS, strict=True)):
        per_cell = len(layer["sizes"]) + len(layer["ratios"]) - 1
        cls = n.conv(feat, f"cls_pred{i}", 8, per_cell * (classes + 1))
        loc = n.conv(feat, f"loc_pred{i}", 8, per_cell * 4)
        for kind, pred, bucket in (("cls", cls, cls_flat), ("loc", loc, loc_flat)):
            t = s.op("transpose", f"{kind}_t{i}", [pred], axes=(0, 2, 3, 1))
            bucket.append(s.op("Flatten", f"{kind}_flat{i}", [t]))
        prior = s.op("_contrib_MultiBoxPrior", f"anchors{i}", [feat], sizes=layer["sizes"], ratios=layer["ratios"],
                     clip=False, steps=(-1.0, -1.0), offsets=(0.5, 0.5))
        anchors.append(s.op("Flatten", f"anchor_flat{i}", [prior]))
    cls_preds = s.op("Concat", "cls_concat", cls_flat, dim=1, num_args=2)
    cls_preds = s.op("Reshape", "cls_reshape", [cls_preds], shape=(0, -1, classes + 1))
    cls_preds = s.op("transpose", "cls_preds", [cls_preds], axes=(0, 2, 1))
    loc_preds = s.op("Concat", "loc_preds", loc_flat, dim=1, num_args=2)
    anchor = s.op("Reshape", "anchors", [s.op("Concat", "anchor_concat", anchors, dim=1, num_args=2)],
                  shape=(0, -1, 4))
    if training:
        cls_prob = s.op("SoftmaxOutput", "cls_prob", [cls_preds, s.var("cls_label")], multi_output=True,
                        use_ignore=True, ignore_label=-1, normalization="valid")
        target = s.op("_contrib_MultiBoxTarget", "multibox_target", [anchor, s.var("label"), cls_preds],
                      overlap_threshold=0.5, negative_mining_ratio=3)
        loc_loss = s.op("MakeLoss", "loc_loss", [s.op("smooth_l1", "loc_loss_", [loc_preds, target], scalar=1.0)])
    else:
        cls_prob = s.op("SoftmaxActivation", "cls_prob", [cls_preds], mode="channel")
    det = s.op("_contrib_MultiBoxDetection", "detection", [cls_prob, loc_preds, anchor], nms_threshold=nms_threshold,
               force_suppress=force_suppress, variances=(0.1, 0.1, 0.2, 0.2), nms_topk=nms_topk, threshold=threshold,
               clip=True)
    heads = [cls_prob, loc_loss, det] if training else [det]
    return s.json(heads), n.params, n.aux


# --- numpy references: MXNet's CPU loops, transcribed ---------------------------------------------------------

def ref_prior(h, w, sizes, ratios, steps=(-1.0, -1.0), offsets=(0.5, 0.5), clip=False) -> np.ndarray:
    """multibox_prior.cc's loop."""
    step_y, step_x = (1.0 / h, 1.0 / w) if steps[0] <= 0 or steps[1] <= 0 else steps
    out = []
    for r in range(h):
        cy = (r + offsets[0]) * step_y
        for c in range(w):
            cx = (c + offsets[1]) * step_x
            for size in sizes:
                hw, hh = size * h / w / 2, size / 2
                out.append([cx - hw, cy - hh, cx + hw, cy + hh])
            for ratio in ratios[1:]:
                hw, hh = sizes[0] * h / w * math.sqrt(ratio) / 2, sizes[0] / math.sqrt(ratio) / 2
                out.append([cx - hw, cy - hh, cx + hw, cy + hh])
    out = np.asarray(out, np.float32)[None]
    return np.clip(out, 0, 1) if clip else out


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    i = w * h
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
    return 0.0 if u <= 0 else i / u


def ref_detection(prob, loc, anchors, threshold=0.01, clip=True, var=(0.1, 0.1, 0.2, 0.2), nms=0.5, force=False,
                  topk=-1) -> np.ndarray:
    """multibox_detection.cc's loops (MXNet 1.9), including its handling of rows past nms_topk."""
    batches, classes, count = prob.shape
    out = -np.ones((batches, count, 6), np.float64)
    for b in range(batches):
        rows = []
        for i in range(count):
            score, cid = -1.0, 0
            for j in range(1, classes):
                if prob[b, j, i] > score:
                    score, cid = prob[b, j, i], j
            if cid > 0 and score < threshold:
                cid = 0
            al, at, ar, ab = anchors[0, i]
            px, py, pw, ph = loc[b, i * 4:i * 4 + 4]
            aw, ah, ax, ay = ar - al, ab - at, (al + ar) / 2, (at + ab) / 2
            ox, oy = px * var[0] * aw + ax, py * var[1] * ah + ay
            ow, oh = math.exp(pw * var[2]) * aw / 2, math.exp(ph * var[3]) * ah / 2
            box = [ox - ow, oy - oh, ox + ow, oy + oh]
            rows.append([cid - 1, score] + ([min(1.0, max(0.0, v)) for v in box] if clip else box))
        valid = [r for r in rows if r[0] >= 0]
        o = out[b]
        for k, r in enumerate(valid):
            o[k] = r
        if not valid or nms <= 0 or nms > 1:
            continue
        temp = o.copy()
        order = sorted(range(len(valid)), key=lambda k: -temp[k, 1])  # stable
        keep = topk if 0 < topk < len(valid) else len(valid)
        o[keep:len(valid), 0] = -1
        for k in range(keep):
            o[k] = temp[order[k]]
        for i in range(keep):
            if o[i, 0] < 0:
                continue
            for j in range(i + 1, keep):
                if o[j, 0] >= 0 and (force or o[i, 0] == o[j, 0]) and _iou(o[i, 2:], o[j, 2:]) >= nms:
                    o[j, 0] = -1
    return out
