"""MXNet checkpoints as the device used them: ``mo.optimize``'s conversion by name to a cached IR, and
``awscam.Model`` given the checkpoint's own file (through the adapter ``awscam.Model`` runs models with)."""

from __future__ import annotations

import json
import os

import numpy as np
import openvino as ov
import pytest

from simulator.errors import ModelNotFoundError
from simulator.inference.adapter import OpenVINOModel
from simulator.inference.mxnet import convert_checkpoint, load_checkpoint, read_mxnet
from simulator.inference.results import parse_result
from tests.support.mxnet_files import resnet_classifier, ssd_detector, write_checkpoint, write_params

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def infer(model: ov.Model, x: np.ndarray) -> np.ndarray:
    return np.asarray(ov.Core().compile_model(model, "CPU", F32)(x)[0])


def test_convert_checkpoint_caches_and_follows_the_requested_size(tmp_path):
    symbol, params, aux = resnet_classifier(seed=1)
    files = write_checkpoint(tmp_path, "resnet18", symbol, params, aux, epoch=4)
    xml = convert_checkpoint(tmp_path, "resnet18", 32, 32, precision="FP32")
    assert xml == tmp_path / "mxnet_resnet18_FP32_FUSED.xml" and xml.with_suffix(".bin").is_file()
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(infer(ov.Core().read_model(str(xml)), x), infer(read_mxnet(*files, x.shape), x),
                               rtol=1e-5, atol=1e-6)
    os.utime(xml, (1e9 + 1e8, 2e9))  # newer than the checkpoint: reused as it is
    stamp = xml.stat().st_mtime
    assert convert_checkpoint(tmp_path, "resnet18", 32, 32, precision="FP32").stat().st_mtime == stamp
    bigger = convert_checkpoint(tmp_path, "resnet18", 64, 48, precision="FP32")  # another size: converted again
    assert list(ov.Core().read_model(str(bigger)).input(0).get_partial_shape().to_shape()) == [1, 3, 48, 64]
    assert convert_checkpoint(tmp_path, "other", 32, 32) is None
    (tmp_path / "resnet18-0004.params").unlink()
    with pytest.raises(ModelNotFoundError, match="resnet18-NNNN.params is not"):
        convert_checkpoint(tmp_path, "resnet18", 32, 32)


def test_fp16_ir_keeps_the_results_close(tmp_path):
    symbol, params, aux = resnet_classifier(seed=2)
    files = write_checkpoint(tmp_path, "net", symbol, params, aux)
    xml = convert_checkpoint(tmp_path, "net", 32, 32, epoch=0)
    assert xml.name == "mxnet_net_FP16_FUSED.xml"
    x = np.random.default_rng(1).uniform(0, 255, (1, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(infer(ov.Core().read_model(str(xml)), x), infer(read_mxnet(*files, x.shape), x),
                               atol=2e-3)


def test_load_checkpoint_from_either_file_with_default_sizes(tmp_path):
    symbol, params, aux = resnet_classifier(seed=3)
    write_checkpoint(tmp_path / "a", "cls", symbol, params, aux, epoch=1)
    changed = {k: v * 0.5 for k, v in params.items()}
    write_params(tmp_path / "a" / "cls-0002.params", changed, aux)
    newest = load_checkpoint(tmp_path / "a" / "cls-symbol.json")
    assert list(newest.input(0).get_partial_shape().to_shape()) == [1, 3, 224, 224]  # a classifier's default
    first = load_checkpoint(tmp_path / "a" / "cls-0001.params", input_hw=(32, 32))
    x = np.random.default_rng(2).uniform(0, 255, (1, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(infer(first, x), infer(read_mxnet(tmp_path / "a" / "cls-symbol.json",
                                                                 tmp_path / "a" / "cls-0001.params", x.shape), x))
    (tmp_path / "a" / "model-shapes.json").write_text(json.dumps([{"name": "data", "shape": [1, 3, 40, 40]}]))
    assert list(load_checkpoint(tmp_path / "a" / "cls-symbol.json").input(0).get_partial_shape()) == [1, 3, 40, 40]
    ssd, ssd_params, ssd_aux = ssd_detector()
    write_checkpoint(tmp_path / "b", "deploy_ssd_512", ssd, ssd_params, ssd_aux)
    model = load_checkpoint(tmp_path / "b" / "deploy_ssd_512-symbol.json")
    assert list(model.input(0).get_partial_shape().to_shape()) == [1, 3, 512, 512]
    with pytest.raises(ModelNotFoundError, match="no nothing-symbol.json"):
        load_checkpoint(tmp_path / "b" / "nothing-0000.params")


def test_checkpoint_runs_through_the_awscam_adapter(tmp_path):
    """What ``awscam.Model('/opt/awscam/artifacts/ssd-symbol.json')`` runs: frames in, parsed SSD results out."""
    ssd, ssd_params, ssd_aux = ssd_detector(seed=6)
    write_checkpoint(tmp_path, "ssd", ssd, ssd_params, ssd_aux)
    model = OpenVINOModel(load_checkpoint(tmp_path / "ssd-symbol.json", input_hw=(64, 64)), "CPU", "ssd-symbol.json")
    frame = np.random.default_rng(5).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    found = parse_result("ssd", model.infer(frame), model.input_hw)["ssd"]
    assert found and found == sorted(found, key=lambda d: -d["prob"])
    assert all(1 <= d["label"] <= 3 and 0 <= d["xmin"] <= d["xmax"] <= 64 and 0 <= d["ymin"] <= d["ymax"] <= 64
               for d in found)
