"""What an operator converter sees: its node, its operands (graph values or stored parameters), and helpers that
turn a mismatch into one clear error naming the node, the parameter and both shapes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from simulator.inference.mxnet.attrs import NodeAttrs
from simulator.inference.mxnet.errors import ModelFormatError
from simulator.inference.mxnet.symbol import SymbolNode


@dataclass
class Operand:
    """One input of a node: a value computed by the graph, a stored parameter, or an unbound variable (a label)."""

    name: str
    output: ov.Output | None = None
    array: np.ndarray | None = None
    _constant: ov.Output | None = field(default=None, repr=False)

    def value(self) -> ov.Output | None:
        if self.output is not None:
            return self.output
        if self.array is not None:
            if self._constant is None:
                self._constant = ops.constant(self.array, name=self.name).output(0)
            return self._constant
        return None


@dataclass
class NodeContext:
    node: SymbolNode
    operands: list[Operand]
    params_path: Path

    @property
    def attrs(self) -> NodeAttrs:
        return self.node.attrs

    @property
    def count(self) -> int:
        return len(self.operands)

    def fail(self, message: str, hint: str | None = None) -> ModelFormatError:
        return ModelFormatError(f"{self.node.where}: {message}", hint=hint)

    def _operand(self, i: int) -> Operand:
        if i >= len(self.operands):
            raise self.fail(f"expects at least {i + 1} inputs, the symbol gives {len(self.operands)}")
        return self.operands[i]

    def input(self, i: int = 0) -> ov.Output:
        operand = self._operand(i)
        value = operand.value()
        if value is None:
            raise self.fail(f"input {i} is the variable '{operand.name}', which is neither the image input "
                            f"nor stored in {self.params_path.name}")
        return value

    def shape(self, i: int = 0) -> tuple[int, ...]:
        return tuple(int(d) for d in self.input(i).get_partial_shape().to_shape())

    def array(self, i: int) -> np.ndarray | None:
        """The stored parameter behind input ``i`` (None when the graph computes it)."""
        return self._operand(i).array

    def weight(self, i: int, expected: tuple[int, ...] | None, role: str) -> ov.Output:
        """Input ``i``; a stored parameter must have the ``expected`` shape (``role``: what the node uses it for)."""
        operand = self._operand(i)
        if operand.array is None and operand.output is None:
            raise ModelFormatError(
                f"{self.node.where}: its {role} '{operand.name}' is missing from {self.params_path}",
                hint="the .params file must come from the same training run (and epoch) as the symbol")
        if expected is not None:
            actual = tuple(operand.array.shape) if operand.array is not None else self.shape(i)
            if actual != tuple(expected):
                raise ModelFormatError(
                    f"{self.params_path}: parameter '{operand.name}' has shape {actual}, but {self.node.where} "
                    f"needs {tuple(expected)} for its {role}",
                    hint="the .params file must come from the same training run (and epoch) as the symbol")
        return self.input(i)


ConvertResult: TypeAlias = ov.Output | ov.Node | Sequence[ov.Output]
Converter = Callable[[NodeContext], ConvertResult]


def outputs_of(result: ConvertResult) -> list[ov.Output]:
    if isinstance(result, ov.Node):
        return list(result.outputs())
    if isinstance(result, ov.Output):
        return [result]
    return [r.output(0) if isinstance(r, ov.Node) else r for r in result]


def const(values, dtype=None) -> ov.Output:
    """A constant: float32 unless ``dtype`` is given or ``values`` is a non-float64 numpy array."""
    if dtype is None:
        keep = isinstance(values, np.ndarray) and values.dtype != np.float64
        dtype = values.dtype if keep else np.float32
    return ops.constant(np.asarray(values, dtype=dtype)).output(0)


def axes_const(values: Sequence[int]) -> ov.Output:
    return ops.constant(np.asarray(list(values), dtype=np.int64)).output(0)


def norm_axis(axis: int, rank: int, ctx: NodeContext, key: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ctx.fail(f"attribute '{key}' = {axis} is out of range for a {rank}-D input")
    return axis % rank
