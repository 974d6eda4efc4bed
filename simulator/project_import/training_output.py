"""A SageMaker training output (``model.tar.gz``, or the folder it was unpacked into): the MXNet checkpoint it
holds (``NAME-symbol.json`` + ``NAME-NNNN.params``) and the ``model-shapes.json`` / ``hyperparams.json`` that
say the input size, the number of classes and the base network."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from simulator.errors import ModelNotFoundError
from simulator.inference.mxnet import ModelFormatError, checkpoint_epochs

WANTED = re.compile(r".+-symbol\.json|.+-\d+\.params|model-shapes\.json|hyperparams\.json")
_MAX_MEMBER = 4 << 30  # refuse members larger than 4 GiB


class InputShape(BaseModel):
    """One entry of ``model-shapes.json`` (``[{"name": "data", "shape": [1, 3, 224, 224]}]``)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    shape: list[int]


@dataclass(frozen=True)
class TrainingOutput:
    symbol: Path
    params: Path
    prefix: str
    epoch: int
    hyperparams: dict[str, str] = field(default_factory=dict)
    data_shape: tuple[int, ...] | None = None


def _extract(archive: Path, into: Path) -> list[str]:
    """Copy the model files out of ``archive`` into ``into`` (by base name); returns every member's name."""
    names: list[str] = []
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                names.append(member.name)
                base = Path(member.name).name
                if not member.isfile() or not WANTED.fullmatch(base):
                    continue
                if member.size > _MAX_MEMBER:
                    raise ModelFormatError(f"{archive}: member {member.name} is {member.size} bytes; too large")
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, open(into / base, "wb") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ModelFormatError(f"{archive}: not a readable tar archive ({exc})",
                               hint="give the model.tar.gz of a SageMaker training job, or the folder it unpacks "
                                    "to") from None
    return names


def _choose_prefix(folder: Path, origin: Path, contents: list[str]) -> str:
    prefixes = sorted(p.name.removesuffix("-symbol.json") for p in folder.glob("*-symbol.json"))
    with_params = [p for p in prefixes if checkpoint_epochs(folder, p)]
    if not with_params:
        listing = ", ".join(sorted(Path(n).name for n in contents)[:12]) or "nothing"
        raise ModelNotFoundError(
            f"{origin} holds no MXNet model (NAME-symbol.json + NAME-NNNN.params); it has: {listing}",
            hint="give the model.tar.gz of a SageMaker image-classification or object-detection training job")
    deploy = [p for p in with_params if p.startswith("deploy_")]
    if len(with_params) > 1 and len(deploy) != 1:
        raise ModelFormatError(f"{origin} holds several MXNet models: {', '.join(with_params)}",
                               hint="unpack it and import the folder of the one you want")
    return deploy[0] if len(with_params) > 1 else with_params[0]


def _hyperparams(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ModelFormatError(f"{path}: expected an object of hyperparameters, got {type(raw).__name__}")
    return {str(k): str(v) for k, v in raw.items()}


def _data_shape(path: Path) -> tuple[int, ...] | None:
    if not path.is_file():
        return None
    try:
        entries = [InputShape.model_validate(e) for e in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise ModelFormatError(f"{path}: not a list of input shapes ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ModelFormatError(f"{path}: field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}") from None
    data = [e for e in entries if e.name == "data"] or entries
    return tuple(data[0].shape) if data else None


def read_training_output(source: Path, workdir: Path, epoch: int | None = None) -> TrainingOutput:
    """Locate the checkpoint in ``source`` (a tar archive is unpacked into ``workdir`` first)."""
    source = Path(source).expanduser()
    if source.is_dir():
        folder, contents = source, [p.name for p in source.iterdir()]
    elif source.is_file():
        folder = Path(workdir)
        folder.mkdir(parents=True, exist_ok=True)
        contents = _extract(source, folder)
    else:
        raise ModelNotFoundError(f"no such file or folder: {source}",
                                 hint="give the model.tar.gz a SageMaker training job wrote to S3")
    prefix = _choose_prefix(folder, source, contents)
    epochs = checkpoint_epochs(folder, prefix)
    chosen = max(epochs) if epoch is None else int(epoch)
    if chosen not in epochs:
        raise ModelNotFoundError(f"{source}: no {prefix}-{chosen:04d}.params (epochs present: "
                                 f"{', '.join(str(e) for e in sorted(epochs))})")
    return TrainingOutput(folder / f"{prefix}-symbol.json", epochs[chosen], prefix, chosen,
                          _hyperparams(folder / "hyperparams.json"), _data_shape(folder / "model-shapes.json"))
