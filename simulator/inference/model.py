"""What ``awscam.Model`` needs from anything that runs a model: an IR, a converted model or a substitute."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class InferenceModel(Protocol):
    """A loaded, compiled model as the Lambda sees it.

    ``input_hw`` is the (height, width) the Lambda resizes frames to (for a substitute: the size the
    *original* device model had). ``infer`` takes the frame as the Lambda passes it (HWC uint8, HWC float32
    in [0, 1] or CHW float32, any size) and returns ``{output_name: flat float32 array}`` laid out as the
    original model's output was, so ``parseResult`` and Lambdas that parse raw outputs work unchanged;
    ``output_shapes`` gives each output's shape before flattening. ``graph`` is the ``openvino.Model``
    actually run (the performance model reads it). ``runs_on()`` says what runs it here ('CPU (f32)').
    A model may also have ``try_fewer_threads(decided)`` (``OpenVINOModel``, the substitutes): ``awscam.Model``
    calls it once an unpaced Lambda has run a few seconds (``thread_trial``; the model tries them again when the
    Lambda's loop rate moves).
    """

    name: str
    input_hw: tuple[int, int]
    output_shapes: dict[str, tuple[int, ...]]

    @property
    def graph(self): ...

    def infer(self, frame: np.ndarray) -> dict[str, np.ndarray]: ...

    def runs_on(self) -> str: ...
