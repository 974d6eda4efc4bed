"""``projects import``: a SageMaker training output (model.tar.gz built here from numpy-made MXNet files) becomes a
project: its IR in the artifacts folder, a device-style Lambda naming it, labels and project.yaml. The IR is loaded
the way ``awscam.Model`` loads it and its parsed results are checked against the MXNet model converted directly;
the generated Lambdas then run unmodified in the simulator and publish their labels."""

from __future__ import annotations

import argparse
import ast
import io
import json
import tarfile

import cv2
import numpy as np
import openvino as ov
import pytest
import yaml

from simulator.cli import projects as projects_cli
from simulator.errors import ConfigError, ModelNotFoundError
from simulator.inference.loader import load_model
from simulator.inference.mxnet import ModelFormatError, read_mxnet
from simulator.inference.results import parse_result
from simulator.paths import PROJECTS_DIR
from simulator.project_import import import_project
from tests.support.mxnet_files import params_bytes, resnet_classifier, ssd_detector, write_checkpoint
from tests.support.waits import wait_until

VOC3 = ["aeroplane", "bicycle", "bird"]
DIGITS = [f"digit {i}" for i in range(10)]


def make_tarball(path, prefix, symbol, params, aux, extra: dict[str, object], epochs=(0,), nested=""):
    with tarfile.open(path, "w:gz") as tar:
        def add(name, data: bytes):
            info = tarfile.TarInfo(nested + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add(f"{prefix}-symbol.json", json.dumps(symbol).encode())
        for epoch in epochs:
            add(f"{prefix}-{epoch:04d}.params", params_bytes(params, aux))
        for name, value in extra.items():
            add(name, json.dumps(value).encode())
    return path


@pytest.fixture
def classifier_tar(tmp_path):
    symbol, params, aux = resnet_classifier(seed=9)
    return make_tarball(tmp_path / "model.tar.gz", "image-classification", symbol, params, aux,
                        {"model-shapes.json": [{"shape": [1, 3, 32, 32], "name": "data"}],
                         "hyperparams.json": {"num_classes": "10", "image_shape": "3,32,32"}}, epochs=(3, 12))


@pytest.fixture
def ssd_tar(tmp_path):
    symbol, params, aux = ssd_detector(seed=4, classes=3, training=True)
    return make_tarball(tmp_path / "od.tar.gz", "model_algo_1", symbol, params, aux,
                        {"hyperparams.json": {"image_shape": "64", "num_classes": "3", "base_network": "tiny"}},
                        nested="output/")


def lambda_facts(path):
    tree = ast.parse(path.read_text())
    compile(tree, str(path), "exec")
    values = {n.targets[0].id: n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
              and isinstance(n.targets[0], ast.Name)}
    return {k: ast.literal_eval(v) for k, v in values.items() if isinstance(v, ast.Constant | ast.Dict)}


def frame(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def as_lambda_input(img, hw):
    """What the generated Lambda hands doInference: resized, BGR -> RGB."""
    return cv2.cvtColor(cv2.resize(img, (hw[1], hw[0])), cv2.COLOR_BGR2RGB)


def test_classifier_import_loads_like_awscam_and_matches_mxnet(tmp_path, classifier_tar):
    labels = tmp_path / "digits.txt"
    labels.write_text("\n".join(DIGITS) + "\n")
    project = import_project(classifier_tar, labels=labels, artifacts=tmp_path / "art",
                             projects_dir=tmp_path / "projects", precision="FP32")
    assert project.name == "image-classification" and project.task == "classification"
    assert project.input_hw == (32, 32) and project.labels == tuple(DIGITS)
    assert project.model_xml == tmp_path / "art" / "mxnet_image-classification_FP32_FUSED.xml"
    assert project.model_xml.with_suffix(".bin").is_file()
    facts = lambda_facts(project.lambda_file)
    assert facts["model_path"] == f"/opt/awscam/artifacts/{project.model_xml.name}"
    assert facts["model_type"] == "classification" and facts["output_map"] == dict(enumerate(DIGITS))
    assert (facts["input_height"], facts["input_width"], facts["num_top_k"]) == (32, 32, 5)
    sample_display = PROJECTS_DIR / "object_detection" / "local_display.py"
    assert (project.folder / "local_display.py").read_text() == sample_display.read_text()  # the device's own
    assert (project.folder / "labels.txt").read_text().splitlines() == DIGITS
    spec = yaml.safe_load((project.folder / "project.yaml").read_text())
    assert spec["name"] == project.name and spec["lambda"] == "lambda_function.py"
    assert "10 classes" in spec["description"]

    model = load_model(project.model_xml, "CPU", shown_path=facts["model_path"])
    img = as_lambda_input(frame(), (32, 32))
    parsed = parse_result("classification", model.infer(img), model.input_hw)["classification"]
    # the newest epoch (12) converted directly, fed the same tensor
    (tmp_path / "x").mkdir()
    with tarfile.open(classifier_tar) as tar:  # two members by name (extractall's filter= needs Python 3.11.4)
        for name in ("image-classification-symbol.json", "image-classification-0012.params"):
            (tmp_path / "x" / name).write_bytes(tar.extractfile(name).read())
    direct = read_mxnet(tmp_path / "x/image-classification-symbol.json",
                        tmp_path / "x/image-classification-0012.params", (1, 3, 32, 32))
    probs = ov.Core().compile_model(direct, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(
        img.transpose(2, 0, 1)[None].astype(np.float32))[0][0]
    assert [p["label"] for p in parsed] == list(np.argsort(-probs, kind="stable"))
    np.testing.assert_allclose([p["prob"] for p in parsed], np.sort(probs)[::-1], rtol=1e-5, atol=1e-6)


def test_ssd_training_output_imports_as_a_detector(tmp_path, ssd_tar):
    labels = tmp_path / "voc3.json"
    labels.write_text(json.dumps(VOC3))
    project = import_project(ssd_tar, name="my detector", labels=labels, artifacts=tmp_path / "art",
                             projects_dir=tmp_path / "p", precision="FP32")
    assert project.name == "my_detector" and project.task == "ssd" and project.input_hw == (64, 64)
    facts = lambda_facts(project.lambda_file)
    assert facts["model_type"] == "ssd" and facts["output_map"] == {1: "aeroplane", 2: "bicycle", 3: "bird"}
    assert facts["model_path"] == "/opt/awscam/artifacts/mxnet_my_detector_FP32_FUSED.xml"
    model = load_model(project.model_xml, "CPU")
    assert model.input_hw == (64, 64)
    img = as_lambda_input(frame(3), (64, 64))
    found = parse_result("ssd", model.infer(img), model.input_hw)["ssd"]
    _symbol, params, aux = ssd_detector(seed=4, classes=3, training=False)
    deploy = read_mxnet(*write_checkpoint(tmp_path / "d", "deploy", _symbol, params, aux), (1, 3, 64, 64),
                        detection_rows="mxnet")
    rows = ov.Core().compile_model(deploy, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(
        img.transpose(2, 0, 1)[None].astype(np.float32))[0][0]
    rows = rows[rows[:, 0] >= 0]
    rows = rows[np.argsort(-rows[:, 1], kind="stable")]
    assert len(found) == len(rows) > 0
    assert [d["label"] for d in found] == [int(c) + 1 for c in rows[:, 0]]
    np.testing.assert_allclose([[d["prob"], d["xmin"], d["ymin"], d["xmax"], d["ymax"]] for d in found],
                               rows[:, 1:] * [1, 64, 64, 64, 64], rtol=1e-4, atol=1e-3)


def test_import_refuses_bad_sources_clearly(tmp_path, classifier_tar, ssd_tar):
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz") as tar:
        info = tarfile.TarInfo("notes/readme.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(ModelNotFoundError, match=r"empty\.tar\.gz holds no MXNet model .*it has: readme\.txt"):
        import_project(empty, projects_dir=tmp_path / "p", artifacts=tmp_path / "a")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ModelFormatError, match="not a readable tar archive"):
        import_project(junk, projects_dir=tmp_path / "p", artifacts=tmp_path / "a")
    with pytest.raises(ConfigError, match=r"--task ssd: image-classification-symbol\.json has no SSD detection head"):
        import_project(classifier_tar, task="ssd", projects_dir=tmp_path / "p", artifacts=tmp_path / "a")
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("a\nb\n")
    with pytest.raises(ConfigError, match=r"wrong\.txt: 2 labels, but the model has 3 classes"):
        import_project(ssd_tar, labels=wrong, projects_dir=tmp_path / "p", artifacts=tmp_path / "a")
    with pytest.raises(ModelNotFoundError, match=r"no image-classification-0005\.params \(epochs present: 3, 12\)"):
        import_project(classifier_tar, epoch=5, projects_dir=tmp_path / "p", artifacts=tmp_path / "a")
    with pytest.raises(ConfigError, match="'hotdog' is the name of a sample project"):
        import_project(classifier_tar, name="hotdog", projects_dir=tmp_path / "p", artifacts=tmp_path / "a")
    import_project(classifier_tar, projects_dir=tmp_path / "p", artifacts=tmp_path / "a")
    with pytest.raises(ConfigError, match="already exists"):
        import_project(classifier_tar, projects_dir=tmp_path / "p", artifacts=tmp_path / "a")
    again = import_project(classifier_tar, projects_dir=tmp_path / "p", artifacts=tmp_path / "a", force=True,
                           epoch=3)
    assert again.labels[:2] == ("class_0", "class_1") and again.model_xml.name.endswith("_FP16_FUSED.xml")


def test_cli_subcommand(tmp_path, classifier_tar, capsys):
    root = argparse.ArgumentParser(prog="main.py")
    projects_cli.add_parser(root.add_subparsers(dest="command"))
    args = root.parse_args(["projects", "import", str(classifier_tar), "--name", "digits", "--projects-dir",
                            str(tmp_path / "p"), "--artifacts", str(tmp_path / "a"), "--input-size", "48"])
    assert projects_cli.run(args) == 0
    out = capsys.readouterr().out
    assert "imported 'digits': classification, 10 classes, input 48x48" in out
    assert f"python main.py --project {tmp_path / 'p' / 'digits'} --artifacts {tmp_path / 'a'}" in out
    assert (tmp_path / "a" / "mxnet_digits_FP16_FUSED.xml").is_file()
    assert projects_cli.run(args) == 2  # an error: exit code 2, as every error of main.py
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["classifier", "ssd"])
def test_generated_lambda_runs_in_the_simulator(tmp_path, kind, classifier_tar, ssd_tar, run_device, subscribe):
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(DIGITS if kind == "classifier" else VOC3))
    project = import_project(classifier_tar if kind == "classifier" else ssd_tar, labels=labels,
                             artifacts=tmp_path / "art", projects_dir=tmp_path / "p")
    device, _viewer = run_device(project=str(project.folder), source="demo", artifacts=tmp_path / "art")
    sub = subscribe(device.mqtt_port, "$aws/things/+/infer")

    def published(message) -> bool:
        try:
            body = json.loads(message[1])
        except ValueError:
            return False
        assert isinstance(body, dict) and set(body) <= set(project.labels), body
        assert all(0.0 <= p <= 1.0 for p in body.values()), body
        return len(body) == 5 if kind == "classifier" else True

    # "model loaded" is published once, possibly before the subscriber connects: the device's own log has it all
    loaded = f"{project.name} model loaded".encode()
    wait_until(lambda: any(m.payload == loaded for m in device.messages.since(0, 500)), "the model-loaded message",
               timeout=60)
    sub.wait_for(published, timeout=60)
    errors = [p for _, p in sub.messages if p.startswith(b"Error")]
    assert not errors, errors
