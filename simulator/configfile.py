"""Load a YAML file into a strict pydantic model; errors name the file, the line and the field.

Used for hardware profiles and project files alike::

    profile = load_yaml_model(Path("hardware_profiles/deeplens.yaml"), Profile)
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from simulator.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _node_line(root: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its deepest existing parent)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == key:
                    # an unknown key is reported at the key itself
                    node, line = v, k.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _duplicate_key(node: yaml.Node | None, where: str = "") -> tuple[str, int, int] | None:
    """The first key given twice in one mapping: (dotted field, its line, the line of its first use)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for k, v in node.value:
            field = f"{where}.{k.value}" if where else str(k.value)
            if k.value in seen:
                return field, k.start_mark.line + 1, seen[k.value]
            seen[k.value] = k.start_mark.line + 1
            found = _duplicate_key(v, field)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_key(item, f"{where}.{i}" if where else str(i))
            if found:
                return found
    return None


def _shown(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Parse and validate ``path``; raise ConfigError naming file, line and field on the first problems."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read file: {exc.strerror or exc}") from exc
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    duplicate = _duplicate_key(root)
    if duplicate:  # YAML keeps the last silently: the first would be lost without a word
        key, again, first = duplicate
        raise ConfigError(f"{path}:{again}: field '{key}': given twice (first on line {first})")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of fields, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            line = _node_line(root, loc)
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            got = "" if err["type"] in ("extra_forbidden", "missing") else f" (got {_shown(err.get('input'))})"
            lines.append(f"{path}:{line}: field '{field}': {msg}{got}")
        raise ConfigError("\n".join(lines)) from None
