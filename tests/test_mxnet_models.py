"""Whole MXNet networks converted without MXNet, checked against independent computations of the same network:
a ResNet-style classifier against the same graph built as ONNX (run by OpenVINO's ONNX front end), and an SSD
against its ONNX body plus a numpy transcription of MXNet's MultiBoxPrior / MultiBoxDetection loops."""

from __future__ import annotations

import numpy as np
import openvino as ov
import pytest

from simulator.inference.mxnet import ModelFormatError, read_mxnet
from tests.support.mxnet_files import (
    SSD_LAYERS,
    ref_detection,
    ref_prior,
    resnet_classifier,
    ssd_detector,
    write_checkpoint,
)

onnx = pytest.importorskip("onnx", reason="the onnx package builds the reference networks")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def run(model: ov.Model, *inputs: np.ndarray) -> list[np.ndarray]:
    compiled = ov.Core().compile_model(model, "CPU", F32)
    result = compiled(list(inputs))
    return [np.asarray(result[i]) for i in range(len(compiled.outputs))]


def run_onnx(tmp_path, nodes, inits, shape, outputs) -> list[np.ndarray]:
    graph = helper.make_graph(nodes, "ref", [helper.make_tensor_value_info("data", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    path = tmp_path / "ref.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return lambda x: run(ov.Core().read_model(str(path)), x)


def classifier_onnx(p: dict[str, np.ndarray]):
    """The network of ``resnet_classifier`` written independently as ONNX (fix_gamma: gamma is 1)."""
    inits, nodes = {}, []

    def bn(x, name, eps, fixed=False):
        for k in ("beta", "moving_mean", "moving_var"):
            inits[f"{name}_{k}"] = p[f"{name}_{k}"]
        inits[f"{name}_g"] = np.ones_like(p[f"{name}_gamma"]) if fixed else p[f"{name}_gamma"]
        nodes.append(helper.make_node("BatchNormalization", [x, f"{name}_g", f"{name}_beta", f"{name}_moving_mean",
                                                             f"{name}_moving_var"], [name], epsilon=eps))
        return name

    def conv(x, name, stride=1, pad=1, group=1, dil=1, bias=True):
        inits[f"{name}_weight"] = p[f"{name}_weight"]
        ins = [x, f"{name}_weight"] + ([f"{name}_bias"] if bias else [])
        if bias:
            inits[f"{name}_bias"] = p[f"{name}_bias"]
        k = p[f"{name}_weight"].shape[-1]
        nodes.append(helper.make_node("Conv", ins, [name], kernel_shape=[k, k], strides=[stride] * 2,
                                      pads=[pad] * 4, group=group, dilations=[dil] * 2))
        return name

    def node(op, ins, out, **kw):
        nodes.append(helper.make_node(op, ins, [out], **kw))
        return out

    x = bn("data", "bn_data", 2e-5, fixed=True)
    x = node("Relu", [bn(conv(x, "conv0", stride=2, bias=False), "bn0", 1e-5)], "relu0")
    pool = node("MaxPool", [x], "pool0", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4, ceil_mode=1)
    y = node("Relu", [bn(conv(pool, "conv1"), "bn1", 1e-5)], "relu1")
    y = bn(conv(y, "conv2", pad=2, dil=2, bias=False), "bn2", 1e-5)
    x = node("Relu", [node("Add", [pool, y], "plus0")], "relu2")
    x = conv(conv(x, "dw3", group=8), "pw3", pad=0)
    x = node("LeakyRelu", [x], "leaky3", alpha=0.1)
    x = node("AveragePool", [x], "pool3", kernel_shape=[2, 2], strides=[2, 2], pads=[1] * 4, count_include_pad=0)
    x = node("Flatten", [node("GlobalAveragePool", [x], "gpool")], "flat")
    inits["fc1_weight"], inits["fc1_bias"] = p["fc1_weight"], p["fc1_bias"]
    x = node("Gemm", [x, "fc1_weight", "fc1_bias"], "fc1", transB=1)
    node("Softmax", [x], "softmax", axis=1)
    return nodes, inits


def test_resnet_classifier_matches_onnx(tmp_path):
    symbol, params, aux = resnet_classifier(seed=3)
    files = write_checkpoint(tmp_path, "resnet-tiny", symbol, params, aux, epoch=7)
    model = read_mxnet(*files, (1, 3, 32, 32))
    assert [o.any_name for o in model.outputs] == ["softmax"] and model.input(0).any_name == "data"
    reference = run_onnx(tmp_path, *classifier_onnx(params), [1, 3, 32, 32], ["softmax"])
    for seed in range(3):
        x = np.random.default_rng(seed).uniform(0, 255, (1, 3, 32, 32)).astype(np.float32)
        (got,), (want,) = run(model, x), reference(x)
        assert got.shape == (1, 10)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # fix_gamma must ignore the stored gamma: a model that used it would differ
    assert not np.allclose(params["bn_data_gamma"], 1.0)


def test_parameter_mismatch_and_missing_parameter_are_named(tmp_path):
    symbol, params, aux = resnet_classifier()
    params["conv1_weight"] = params["conv1_weight"][:, :4]
    files = write_checkpoint(tmp_path, "bad", symbol, params, aux)
    with pytest.raises(ModelFormatError, match=r"bad-0000\.params: parameter 'conv1_weight' has shape \(8, 4, 3, 3\), "
                                               r"but .*node 'conv1' \(Convolution\) needs \(8, 8, 3, 3\)"):
        read_mxnet(*files, (1, 3, 32, 32))
    del params["conv1_weight"]
    files = write_checkpoint(tmp_path, "gone", symbol, params, aux)
    with pytest.raises(ModelFormatError, match=r"node 'conv1' \(Convolution\): its weight 'conv1_weight' is missing "
                                               r"from .*gone-0000\.params"):
        read_mxnet(*files, (1, 3, 32, 32))


def test_unsupported_operator_names_op_and_node(tmp_path):
    symbol, params, aux = resnet_classifier()
    symbol["nodes"][-3]["op"] = "Custom"  # the FullyConnected node
    files = write_checkpoint(tmp_path, "custom", symbol, params, aux)
    with pytest.raises(ModelFormatError, match=r"custom-symbol\.json:\d+: node 'fc1' \(Custom\): operator 'Custom' "
                                               r"is not supported") as err:
        read_mxnet(*files, (1, 3, 32, 32))
    assert "ONNX" in err.value.hint


# --- SSD -----------------------------------------------------------------------------------------------------------

def ssd_body_onnx(p: dict[str, np.ndarray], classes: int):
    inits, nodes = dict(p), []

    def node(op, ins, out, **kw):
        nodes.append(helper.make_node(op, ins, [out], **kw))
        return out

    def conv(x, name, stride=1):
        return node("Conv", [x, f"{name}_weight", f"{name}_bias"], name, kernel_shape=[3, 3], pads=[1] * 4,
                    strides=[stride] * 2)

    x = node("Relu", [conv("data", "conv_a", 2)], "relu_a")
    f1 = node("Relu", [conv(x, "conv_b", 2)], "relu_b")
    f2 = node("Relu", [conv(f1, "conv_c", 2)], "relu_c")
    cls, loc = [], []
    for i, feat in enumerate((f1, f2)):
        for kind, bucket in (("cls", cls), ("loc", loc)):
            t = node("Transpose", [conv(feat, f"{kind}_pred{i}")], f"{kind}_t{i}", perm=[0, 2, 3, 1])
            bucket.append(node("Flatten", [t], f"{kind}_flat{i}", axis=1))
    inits["shape"] = np.array([0, -1, classes + 1], np.int64)
    c = node("Reshape", [node("Concat", cls, "cls_cat", axis=1), "shape"], "cls_r")
    node("Softmax", [node("Transpose", [c], "cls_preds", perm=[0, 2, 1])], "cls_prob", axis=1)
    node("Concat", loc, "loc_preds", axis=1)
    return nodes, inits


SSD_CASES = {
    "per-class NMS": {},
    "force_suppress + nms_topk": {"force_suppress": True, "nms_topk": 40, "nms_threshold": 0.3},
    "threshold drops anchors": {"threshold": 0.55, "nms_threshold": 0.5},
    "no NMS": {"nms_threshold": 0.0, "threshold": 0.5},
}


@pytest.mark.parametrize("case", list(SSD_CASES))
def test_ssd_matches_numpy_multibox(tmp_path, case):
    settings = {"nms_threshold": 0.45, "nms_topk": -1, "force_suppress": False, "threshold": 0.01,
                **SSD_CASES[case]}
    symbol, params, aux = ssd_detector(seed=5, classes=3, **settings)
    files = write_checkpoint(tmp_path, "ssd", symbol, params, aux)
    raw = read_mxnet(*files, (1, 3, 64, 64), detection_rows="mxnet")
    rows = read_mxnet(*files, (1, 3, 64, 64))
    assert rows.output(0).get_partial_shape().to_shape() == [1, 1, 1216, 7]
    body = run_onnx(tmp_path, *ssd_body_onnx(params, 3), [1, 3, 64, 64], ["cls_prob", "loc_preds"])
    anchors = np.concatenate([ref_prior(16 // (2 ** i), 16 // (2 ** i), **layer).reshape(1, -1, 4)
                              for i, layer in enumerate(SSD_LAYERS)], axis=1)
    x = np.random.default_rng(11).uniform(0, 1, (1, 3, 64, 64)).astype(np.float32)
    prob, loc = body(x)
    want = ref_detection(prob, loc, anchors, threshold=settings["threshold"], nms=settings["nms_threshold"],
                         force=settings["force_suppress"], topk=settings["nms_topk"])
    (got,) = run(raw, x)
    assert got.shape == (1, 1216, 6)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    kept = want[0][want[0, :, 0] >= 0]
    assert 0 < len(kept) < 1216 and (case == "no NMS" or np.any(want[0, :, 0] == -1) and np.any(want[0, :, 1] > 0))
    # the device's rows: detections first, label = class id + 1, then image -1
    (dev,) = run(rows, x)
    dev = dev.reshape(-1, 7)
    assert np.all(dev[: len(kept), 0] == 0) and np.all(dev[len(kept):, 0] == -1)
    np.testing.assert_allclose(dev[: len(kept), 1], kept[:, 0] + 1)
    np.testing.assert_allclose(dev[: len(kept), 2:], kept[:, 1:], rtol=1e-4, atol=1e-4)


def test_training_symbol_keeps_only_the_detection_head(tmp_path):
    """A SageMaker training symbol also has loss heads (SoftmaxOutput with a label, MultiBoxTarget, MakeLoss):
    the detection head alone is converted, as MXNet's SSD deploy step does."""
    symbol, params, aux = ssd_detector(seed=2, training=True)
    assert {"_contrib_MultiBoxTarget", "MakeLoss"} <= {n["op"] for n in symbol["nodes"]}
    files = write_checkpoint(tmp_path, "train", symbol, params, aux)
    model = read_mxnet(*files, (1, 3, 64, 64), detection_rows="mxnet")
    assert [o.any_name for o in model.outputs] == ["detection"]
    deploy_symbol, _, _ = ssd_detector(seed=2, training=False)
    deploy = read_mxnet(*write_checkpoint(tmp_path / "d", "deploy", deploy_symbol, params, aux), (1, 3, 64, 64),
                        detection_rows="mxnet")
    x = np.random.default_rng(4).uniform(0, 1, (1, 3, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(run(model, x)[0], run(deploy, x)[0], rtol=1e-5, atol=1e-6)


def test_prior_boxes_match_reference_including_clip_and_steps():
    from simulator.inference.mxnet.multibox import prior_boxes

    for h, w, sizes, ratios, steps, offsets, clip in [
        (5, 7, (0.3, 0.6), (1.0, 2.0, 0.5), (-1.0, -1.0), (0.5, 0.5), True),
        (4, 4, (0.9,), (1.0, 3.0), (0.3, 0.2), (0.25, 0.75), False),
    ]:
        np.testing.assert_allclose(prior_boxes(h, w, sizes, ratios, steps, offsets, clip),
                                   ref_prior(h, w, sizes, ratios, steps, offsets, clip), rtol=1e-6, atol=1e-6)
