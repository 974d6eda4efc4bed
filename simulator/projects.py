"""Projects: a Lambda plus a small ``project.yaml`` (as a DeepLens project paired a Lambda with a model).

``--project`` takes a sample name (a folder of ``projects/``), a project folder, or a bare Lambda file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from simulator.config import ENV_NAME
from simulator.configfile import load_yaml_model
from simulator.errors import ConfigError, LambdaError
from simulator.paths import PROJECTS_DIR, user_projects_dir
from simulator.runtime.lambda_file import check_lambda_file

DEFAULT_PROJECT = "object_detection"
RULES_FILE = "rules.yaml"  # beside the Lambda: the project's AWS IoT rules, loaded with it


def _bundled(name: str) -> str:
    from simulator.inference.registry import registry

    known = registry()
    if name not in known:
        raise ValueError(f"no bundled model is called {name!r} (known: {', '.join(known)})")
    return name


BundledModel = Annotated[str, AfterValidator(_bundled)]


class ProjectFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    lambda_: str = Field(default="lambda_function.py", alias="lambda")
    models: list[BundledModel] = Field(default_factory=list)  # bundled models to fetch before the Lambda starts
    source: str | None = None  # default source when --source is not given
    env: dict[str, str] = Field(default_factory=dict)  # the Lambda's environment variables, as Greengrass gave them
    rules: list[str] = Field(default_factory=list)  # rule files (relative to the project); default: rules.yaml
    watchdog_seconds: float | None = Field(default=None, ge=0)  # hung after this long without progress; 0: off
    memory_limit_mb: float | None = Field(default=None, gt=0)  # kill the Lambda above this (default: the profile's)

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if not ENV_NAME.match(key):
                raise ValueError(f"{key!r} is not an environment variable name (letters, digits, '_')")
        return env


@dataclass(frozen=True)
class Project:
    name: str
    lambda_file: Path
    description: str = ""
    models: tuple[str, ...] = ()
    source: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    rules: tuple[Path, ...] = ()
    watchdog_seconds: float | None = None
    memory_limit_mb: float | None = None


def sample_projects() -> list[str]:
    """The sample projects shipped with the simulator, by name."""
    return sorted(p.parent.name for p in PROJECTS_DIR.glob("*/project.yaml"))


def imported_projects() -> list[str]:
    """The user's projects made by ``projects import``, by name."""
    return sorted(p.parent.name for p in user_projects_dir().glob("*/project.yaml"))


def available_projects() -> list[str]:
    """The sample projects and the user's imported ones, by name."""
    return sorted({*sample_projects(), *imported_projects()})


def _known_projects_hint() -> str:
    hint = f"sample projects: {', '.join(sample_projects()) or 'none'}"
    imported = imported_projects()
    return f"{hint}; imported projects ({user_projects_dir()}): {', '.join(imported)}" if imported else hint


MISNAMED = ("project.yml", "project.json", "Project.yaml", "project.YAML")  # read as nothing: said, not skipped


def _from_folder(folder: Path) -> Project:
    spec = folder / "project.yaml"
    misnamed = [folder / name for name in MISNAMED if (folder / name).is_file()]
    if misnamed and not spec.is_file():
        raise ConfigError(f"{misnamed[0]}: the project file must be called project.yaml (it was not read)",
                          hint=f"rename it: mv {misnamed[0]} {spec}")
    if spec.is_file():
        pf = load_yaml_model(spec, ProjectFile)
        lambda_file = folder / pf.lambda_
        if not lambda_file.is_file():
            raise ConfigError(f"{spec}: field 'lambda': no file {lambda_file}")
        rules = []
        for i, name in enumerate(pf.rules):
            if not (folder / name).is_file():
                raise ConfigError(f"{spec}: field 'rules.{i}': no file {folder / name}")
            rules.append((folder / name).resolve())
        return Project(pf.name, check_lambda_file(lambda_file), pf.description, tuple(pf.models), pf.source,
                       env=tuple(pf.env.items()), rules=tuple(rules or _beside(lambda_file)),
                       watchdog_seconds=pf.watchdog_seconds, memory_limit_mb=pf.memory_limit_mb)
    candidates = [folder / "lambda_function.py"] if (folder / "lambda_function.py").is_file() \
        else sorted(folder.glob("*.py"))
    if len(candidates) != 1:
        raise LambdaError(f"project folder {folder} has no project.yaml and "
                          f"{'no' if not candidates else 'several'} Python files",
                          hint="add a project.yaml naming the Lambda, or give the Lambda file itself")
    return Project(folder.name, check_lambda_file(candidates[0]), rules=_beside(candidates[0]))


def _beside(lambda_file: Path) -> tuple[Path, ...]:
    """The project's ``rules.yaml`` beside its Lambda, if there is one."""
    rules = lambda_file.parent / RULES_FILE
    return (rules.resolve(),) if rules.is_file() else ()


def resolve_project(spec: str | Path | None) -> Project:
    spec = str(spec) if spec is not None else DEFAULT_PROJECT
    path = Path(spec).expanduser()
    if path.is_file() and (path.name == "project.yaml" or path.name in MISNAMED):
        return _from_folder(path.parent)  # the project file given for its folder
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml", ".json"):
        raise ConfigError(f"--project {spec}: a project is a folder (with its project.yaml) or a Lambda file",
                          hint=f"give the folder {path.parent}, or the Lambda's .py file")
    if path.suffix == ".py" or path.is_file():
        return Project(path.stem, check_lambda_file(path), rules=_beside(path) if path.is_file() else ())
    if path.is_dir():
        return _from_folder(path)
    sample = PROJECTS_DIR / spec
    if "/" not in spec and sample.is_dir():
        return _from_folder(sample)
    imported = user_projects_dir() / spec
    if "/" not in spec and imported.is_dir():
        return _from_folder(imported)
    raise ConfigError(f"unknown project '{spec}': not a sample project, an imported project, a folder or a "
                      "Lambda file", hint=_known_projects_hint())
