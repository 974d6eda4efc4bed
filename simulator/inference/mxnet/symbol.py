"""MXNet's ``NAME-symbol.json``: the network graph, read into frozen, typed nodes.

A node is ``{"op", "name", "inputs": [[node, output(, version)], ...], "attrs": {key: string}}``; files written
by MXNet before 0.9 keep operator parameters in ``"param"`` and symbol attributes in ``"attr"``. Attributes named
``__...__`` (initialisers, learning-rate multipliers, shape hints) do not describe the computation and are dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulator.errors import ModelNotFoundError
from simulator.inference.mxnet.attrs import NodeAttrs
from simulator.inference.mxnet.errors import ModelFormatError


class _NodeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: str
    name: str
    inputs: list[list[int]] = Field(default_factory=list)
    attrs: dict[str, Any] | None = None
    attr: dict[str, Any] | None = None  # before MXNet 0.9: symbol attributes
    param: dict[str, Any] | None = None  # before MXNet 0.9: operator parameters
    control_deps: list[Any] = Field(default_factory=list)
    subgraphs: list[Any] = Field(default_factory=list)
    backward_source_id: int = -1


class _GraphFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nodes: list[_NodeFile]
    arg_nodes: list[int] = Field(default_factory=list)
    node_row_ptr: list[int] | None = None
    heads: list[list[int]]
    attrs: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class SymbolNode:
    """One operator (or, with ``op == "null"``, a variable: the input or a parameter)."""

    index: int
    op: str
    name: str
    inputs: tuple[tuple[int, int], ...]
    attrs: NodeAttrs
    line: int | None

    @property
    def where(self) -> str:
        return self.attrs.where


@dataclass(frozen=True)
class SymbolGraph:
    path: Path
    nodes: tuple[SymbolNode, ...]
    heads: tuple[tuple[int, int], ...]

    def node(self, name: str) -> SymbolNode | None:
        return next((n for n in self.nodes if n.name == name), None)

    @property
    def ops(self) -> frozenset[str]:
        return frozenset(n.op for n in self.nodes)


def _flatten_attrs(node: _NodeFile) -> dict[str, str]:
    merged: dict[str, str] = {}
    for source in (node.param, node.attr, node.attrs):
        for key, value in (source or {}).items():
            if not (key.startswith("__") and key.endswith("__")):
                merged[key] = value if isinstance(value, str) else json.dumps(value)
    return merged


def _line_index(text: str) -> dict[str, int]:
    """Line (1-based) of each ``"name": "..."`` in the file, to point errors at the node."""
    lines: dict[str, int] = {}
    for match in re.finditer(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"', text):
        lines.setdefault(json.loads(f'"{match.group(1)}"'), text.count("\n", 0, match.start()) + 1)
    return lines


def read_symbol(path: Path) -> SymbolGraph:
    """Parse and check a symbol file; errors name the file, the line and the node or field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelNotFoundError(f"MXNet symbol file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{path}: cannot read: {exc}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise ModelFormatError(f"{path}:1: expected a JSON object with 'nodes' and 'heads', got {type(raw).__name__}")
    try:
        graph = _GraphFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            field = ".".join(str(p) for p in err["loc"])
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{path}: field '{field}': {msg}")
        raise ModelFormatError("\n".join(problems)) from None
    lines = _line_index(text)
    nodes: list[SymbolNode] = []
    for index, node in enumerate(graph.nodes):
        line = lines.get(node.name)
        where = f"{path}:{line}" if line else str(path)
        where = f"{where}: node '{node.name}' ({node.op})"
        inputs = []
        for entry in node.inputs:
            if len(entry) not in (2, 3) or not 0 <= entry[0] < index or entry[1] < 0:
                raise ModelFormatError(f"{where}: input {entry} does not name an earlier node's output")
            inputs.append((entry[0], entry[1]))
        nodes.append(SymbolNode(index, node.op, node.name, tuple(inputs), NodeAttrs(_flatten_attrs(node), where),
                                line))
    heads = []
    for entry in graph.heads:
        if len(entry) not in (2, 3) or not 0 <= entry[0] < len(nodes):
            raise ModelFormatError(f"{path}: field 'heads': {entry} does not name a node's output")
        heads.append((entry[0], entry[1]))
    if not heads:
        raise ModelFormatError(f"{path}: field 'heads' is empty: the graph has no output")
    return SymbolGraph(path, tuple(nodes), tuple(heads))
