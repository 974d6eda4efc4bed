"""Read a YAML or JSON file into a strict pydantic model; every error names the file, the line and the key.

JSON is read with the json module (so what the AWS CLI prints is read exactly); line numbers come from composing
the same text as YAML, which JSON nearly always is. When that fails, errors fall back to line 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from simulator.rules.errors import RulesError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class SourceFile:
    """A parsed file: its data, and the YAML node tree that tells where each key is."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line(self, loc: tuple = ()) -> int:
        """1-based line of the value at ``loc`` (an unknown key is reported at the key itself)."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else 1
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.value == key:
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

    def where(self, loc: tuple = ()) -> str:
        return f"{self.path}:{self.line(loc)}"

    def validate(self, model: type[M], loc: tuple = ()) -> M:
        """Validate the value at ``loc`` (the whole file by default) as ``model``."""
        value = self.data
        for key in loc:
            value = value[key]
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise RulesError("\n".join(self._describe(err, loc) for err in exc.errors())) from None

    def _describe(self, err: Any, prefix: tuple) -> str:
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))  # drop union tags
        field = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            return f"{self.where(loc)}: unknown key '{loc[-1]}' (in '{field}')"
        msg = err["msg"].removeprefix("Value error, ")
        got = "" if err["type"] in ("missing", "value_error") else f" (got {err.get('input')!r})"
        return f"{self.where(loc)}: key '{field}': {msg}{got}"


def read_source(path: Path) -> SourceFile:
    """Parse ``path`` (JSON when it ends in .json, YAML otherwise); RulesError with file:line when it cannot."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules file: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RulesError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        try:
            root = yaml.compose(text)
        except yaml.YAMLError:
            root = None
    else:
        try:
            root = yaml.compose(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            raise RulesError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise RulesError(f"{path}:1: expected a mapping ('rules:' or the output of aws iot get-topic-rule), "
                         f"got {type(data).__name__}")
    return SourceFile(path, data, root)
