"""``projects import``: a SageMaker training output becomes a project the simulator runs.

The MXNet model is converted once to IR (``mxnet_<NAME>_<PRECISION>_FUSED.xml`` in the artifacts folder, which
Lambdas see as ``/opt/awscam/artifacts``), and the project folder ``<projects>/<NAME>`` gets a device-style
``lambda_function.py`` for the task, the device's ``local_display.py``, ``labels.txt`` and ``project.yaml``.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import openvino as ov
import yaml

from simulator.errors import ConfigError
from simulator.inference.mxnet import DETECTION_CLASSES_KEY, DETECTION_OPS, build_model, read_params, read_symbol
from simulator.paths import PROJECTS_DIR, default_artifacts_dir, user_projects_dir
from simulator.project_import.lambda_template import TASKS, TEMPLATES, render_lambda
from simulator.project_import.training_output import TrainingOutput, read_training_output

DEFAULT_SIZE = {"classification": 224, "ssd": 300}
PRECISIONS = ("FP16", "FP32")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class ImportedProject:
    name: str
    folder: Path
    lambda_file: Path
    model_xml: Path
    task: str
    labels: tuple[str, ...]
    input_hw: tuple[int, int]
    source: Path


def project_name(text: str) -> str:
    """A folder- and file-name-safe project name from ``text`` (a checkpoint prefix or the user's choice)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_-")[:64]
    if not _NAME.fullmatch(name):
        raise ConfigError(f"project name {text!r} is not usable",
                          hint="give --name with letters, digits, '_' or '-'")
    return name


def _task(requested: str | None, detects: bool, symbol: Path) -> str:
    found = "ssd" if detects else "classification"
    if requested is None:
        return found
    if requested not in TASKS:
        raise ConfigError(f"unknown task {requested!r}", hint=f"use one of: {', '.join(TASKS)}")
    if requested != found:
        why = "has an SSD detection head (_contrib_MultiBoxDetection), so it is an SSD" if detects else \
            "has no SSD detection head (_contrib_MultiBoxDetection), so it is a classification"
        raise ConfigError(f"--task {requested}: {symbol.name} {why} model",
                          hint=f"leave --task out, or give --task {found}")
    return requested


def _size(text: str, what: str) -> tuple[int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if len(numbers) == 1:
        return numbers[0], numbers[0]
    if len(numbers) == 3:  # "3,224,224"
        return numbers[1], numbers[2]
    if len(numbers) == 2:
        return numbers[0], numbers[1]
    raise ConfigError(f"{what}: cannot read an image size from {text!r}")


def input_size(task: str, out: TrainingOutput, override: int | None = None) -> tuple[int, int]:
    """(height, width): ``override``, model-shapes.json, hyperparams ``image_shape``, else 224 / 300."""
    if override is not None:
        hw = (int(override), int(override))
    elif out.data_shape is not None and len(out.data_shape) == 4:
        hw = (out.data_shape[2], out.data_shape[3])
    elif "image_shape" in out.hyperparams:
        hw = _size(out.hyperparams["image_shape"], "hyperparams.json field 'image_shape'")
    else:
        hw = (DEFAULT_SIZE[task], DEFAULT_SIZE[task])
    if not all(0 < d <= 1024 for d in hw):
        raise ConfigError(f"input size {hw[1]}x{hw[0]} is out of range (1..1024, as mo.optimize allows)")
    return hw


def _classes(model: ov.Model, task: str) -> int:
    if task == "ssd":
        return int(model.get_rt_info(list(DETECTION_CLASSES_KEY)).astype(int))
    shape = model.output(0).get_partial_shape().to_shape()
    return int(shape[-1]) if len(shape) else 1


def read_labels(path: Path | None, classes: int) -> list[str]:
    """Labels from a text file (one per line) or a JSON list; ``class_<i>`` when no file is given."""
    if path is None:
        return [f"class_{i}" for i in range(classes)]
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read labels: {exc}") from None
    if path.suffix == ".json":
        try:
            labels = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ConfigError(f"{path}: expected a JSON list of label strings")
    else:
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    if len(labels) != classes:
        raise ConfigError(f"{path}: {len(labels)} labels, but the model has {classes} classes",
                          hint="one label per line, in class-index order (background excluded for SSD)")
    return labels


def _write_project(folder: Path, result: ImportedProject, out: TrainingOutput, code: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result.lambda_file.write_text(code, encoding="utf-8")
    shutil.copyfile(TEMPLATES / "local_display.py.tmpl", folder / "local_display.py")  # the device's, verbatim
    (folder / "labels.txt").write_text("".join(f"{label}\n" for label in result.labels), encoding="utf-8")
    kind = "object detector (SSD)" if result.task == "ssd" else "image classifier"
    description = (f"{kind} imported from {result.source.name} ({out.prefix}, epoch {out.epoch}): "
                   f"{len(result.labels)} classes, input {result.input_hw[1]}x{result.input_hw[0]}, "
                   f"model {result.model_xml.name}. Publishes {{label: probability}} to $aws/things/<thing>/infer.")
    spec = {"name": result.name, "description": description, "lambda": result.lambda_file.name}
    (folder / "project.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, width=110), encoding="utf-8")


def import_project(source: Path, name: str | None = None, task: str | None = None, labels: Path | None = None,
                   artifacts: Path | None = None, projects_dir: Path | None = None, epoch: int | None = None,
                   size: int | None = None, precision: str = "FP16", force: bool = False) -> ImportedProject:
    """Convert the training output at ``source`` and write its project; returns what was made."""
    precision = precision.upper()
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    with tempfile.TemporaryDirectory(prefix="deeplens-import-") as tmp:
        out = read_training_output(Path(source), Path(tmp), epoch)
        graph = read_symbol(out.symbol)
        chosen = _task(task, bool(graph.ops & DETECTION_OPS), out.symbol)
        hw = input_size(chosen, out, size)
        project = project_name(name or out.prefix)
        if (PROJECTS_DIR / project / "project.yaml").is_file():
            raise ConfigError(f"'{project}' is the name of a sample project", hint="choose another --name")
        folder = (projects_dir or user_projects_dir()) / project
        if folder.exists() and not force:
            raise ConfigError(f"project folder {folder} already exists",
                              hint="choose another --name, or give --force to replace its files")
        model = build_model(graph, read_params(out.params), out.params, (1, 3, *hw))
        names = read_labels(labels, _classes(model, chosen))
        target = Path(artifacts or default_artifacts_dir())
        target.mkdir(parents=True, exist_ok=True)
        xml = target / f"mxnet_{project}_{precision}_FUSED.xml"
        ov.save_model(model, str(xml), compress_to_fp16=precision == "FP16")
    result = ImportedProject(project, folder, folder / "lambda_function.py", xml, chosen, tuple(names), hw,
                             Path(source))
    code = render_lambda(chosen, project, xml.name, names, hw, Path(source).name)
    _write_project(folder, result, out, code)
    return result
