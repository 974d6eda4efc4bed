"""Projects: a Lambda plus a small ``project.yaml`` (as a DeepLens project paired a Lambda with a model).

``--project`` takes a sample name (a folder of ``projects/``), a project folder, or a bare Lambda file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from simulator.configfile import load_yaml_model
from simulator.errors import ConfigError, LambdaError
from simulator.paths import PROJECTS_DIR
from simulator.runtime.lambda_file import check_lambda_file

DEFAULT_PROJECT = "object_detection"


class ProjectFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    lambda_: str = Field(default="lambda_function.py", alias="lambda")
    models: list[str] = Field(default_factory=list)  # bundled models to fetch before the Lambda starts
    source: str | None = None  # default source when --source is not given


@dataclass(frozen=True)
class Project:
    name: str
    lambda_file: Path
    description: str = ""
    models: tuple[str, ...] = ()
    source: str | None = None


def available_projects() -> list[str]:
    return sorted(p.parent.name for p in PROJECTS_DIR.glob("*/project.yaml"))


def _from_folder(folder: Path) -> Project:
    spec = folder / "project.yaml"
    if spec.is_file():
        pf = load_yaml_model(spec, ProjectFile)
        lambda_file = folder / pf.lambda_
        if not lambda_file.is_file():
            raise ConfigError(f"{spec}: field 'lambda': no file {lambda_file}")
        return Project(pf.name, check_lambda_file(lambda_file), pf.description, tuple(pf.models), pf.source)
    candidates = [folder / "lambda_function.py"] if (folder / "lambda_function.py").is_file() \
        else sorted(folder.glob("*.py"))
    if len(candidates) != 1:
        raise LambdaError(f"project folder {folder} has no project.yaml and "
                          f"{'no' if not candidates else 'several'} Python files",
                          hint="add a project.yaml naming the Lambda, or give the Lambda file itself")
    return Project(folder.name, check_lambda_file(candidates[0]))


def resolve_project(spec: str | Path | None) -> Project:
    spec = str(spec) if spec is not None else DEFAULT_PROJECT
    path = Path(spec).expanduser()
    if path.suffix == ".py" or path.is_file():
        return Project(path.stem, check_lambda_file(path))
    if path.is_dir():
        return _from_folder(path)
    sample = PROJECTS_DIR / spec
    if "/" not in spec and sample.is_dir():
        return _from_folder(sample)
    raise ConfigError(f"unknown project '{spec}': not a sample project, a folder or a Lambda file",
                      hint=f"sample projects: {', '.join(available_projects()) or 'none'}")
