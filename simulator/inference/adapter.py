"""Run an OpenVINO model (IR, ONNX, TFLite, TF frozen graph, PaddlePaddle) the way ``awscam.Model`` did.

``OpenVINOModel`` is the one class that compiles and runs a graph: user models use it directly, the substitutes
for the device's lost models wrap it. It runs on the process's one ``ov.Core`` (``devices.core()``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import openvino as ov

from simulator.inference import devices
from simulator.inference.layout import to_hwc
from simulator.inference.mapped import release_weights
from simulator.inference.telemetry_off import conversion_telemetry_off
from simulator.inference.thread_trial import MAX_SETTLE_S, TURN, LoadWatch, ThreadTrial

log = logging.getLogger(__name__)


def read_graph(path: Path) -> ov.Model:
    """Read any format OpenVINO reads; a TF frozen graph goes through ``convert_model``."""
    if path.suffix == ".pb":
        conversion_telemetry_off()
        return ov.convert_model(str(path))
    return devices.core().read_model(str(path))


def channels_first(port: ov.Output, dims: list[int]) -> bool:
    """Is this 4-D image input NCHW? The layout in the model's runtime info decides; the shape only when the
    model carries no layout (a dimension of 1 or 3 in position 1 and not in position 3)."""
    layout = ov.layout_helpers.get_layout(port)
    if not layout.empty and layout.has_name("C"):
        return bool(ov.layout_helpers.channels_idx(layout) in (1, -3))
    return dims[1] in (1, 3) and dims[3] not in (1, 3)


def _threads(n: int) -> str:
    return f"{n} thread{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class _Trial:
    """The thread trial under way: the other candidate's compiled model (``other``: 0 OpenVINO's default threads,
    1 one fewer; the model's own request runs the rest)."""

    trial: ThreadTrial
    other: int
    compiled: ov.CompiledModel
    request: ov.InferRequest


@dataclass
class _Trials:
    """A model's thread trials: the candidates (0: OpenVINO's default threads, 1: one fewer), which one runs, and
    the watch that asks for the next trial."""

    threads: tuple[int, int]
    configs: tuple[dict[str, str], dict[str, str]]
    decided: Callable[[str], None]
    trial: ThreadTrial  # the settings of every trial (each runs a fresh one: ``ThreadTrial.fresh``)
    watch_template: LoadWatch
    running: int = 0
    rounds: int = 0  # trials that chose
    wanted: bool = True
    compiling: bool = False
    watch: LoadWatch | None = None
    settle_s: float = 0.0


class OpenVINOModel:
    """One image input (NCHW or NHWC); ``infer`` returns the outputs flat float32 by name, ``run`` as arrays."""

    def __init__(self, graph: ov.Model, device: str, name: str, core: ov.Core | None = None,
                 config: dict[str, str] | None = None, source: Path | None = None) -> None:
        """``source``: the IR file ``graph`` was read from, compiled by its path instead, so that a ``CACHE_DIR``
        in ``config`` is looked up by the path rather than by hashing the whole graph (OpenVINO keys such an
        entry by the path alone: the caller gives each version of the file its own cache folder)."""
        self.name = name
        self._graph = graph
        if len(graph.inputs) != 1:
            raise ValueError(f"{name}: expected a model with one image input, it has {len(graph.inputs)}")
        port = graph.input(0)
        shape = port.get_partial_shape()
        if shape.rank.is_dynamic or shape.rank.get_length() != 4 or not all(d.is_static for d in list(shape)[1:]):
            raise ValueError(f"{name}: expected a 4-D image input with a static size, got {shape}")
        dims = [d.get_length() if d.is_static else 1 for d in shape]
        self.nchw = channels_first(port, dims)
        self.channels = dims[1] if self.nchw else dims[3]
        self.input_hw = (dims[2], dims[3]) if self.nchw else (dims[1], dims[2])
        self._dtype = np.dtype(port.get_element_type().to_dtype())
        if shape[0].is_dynamic:
            graph.reshape({port.any_name if port.names else 0: [1, *dims[1:]]})
        cfg = dict(devices.compile_config(device) if config is None else config)
        target = str(source) if source is not None and not shape[0].is_dynamic else graph
        self._core, self._target, self._config, self._device = core or devices.core(), target, cfg, device
        self._compiled = devices.compile_model(target, device, cfg, with_core=self._core)
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()  # one request: Lambda threads take turns
        self.threads = self._cpu_threads()  # CPU inference threads of the last call's request (0: not the CPU)
        self._trial: _Trial | None = None  # see try_fewer_threads
        self._trials: _Trials | None = None
        self._threads_shown = devices.cpu_threads() is not None
        self._out_names = [o.any_name if o.names else f"output{i}" for i, o in enumerate(self._compiled.outputs)]
        self.output_shapes: dict[str, tuple[int, ...]] = {
            n: tuple(o.get_partial_shape().get_min_shape()) for n, o in zip(self._out_names, self._compiled.outputs,
                                                                            strict=True)}

    def _cpu_threads(self) -> int:
        if self._device != "CPU":
            return 0
        return int(self._compiled.get_property("INFERENCE_NUM_THREADS"))

    @property
    def graph(self) -> ov.Model:
        return self._graph

    @property
    def compiled(self) -> ov.CompiledModel:
        return self._compiled

    def runs_on(self) -> str:
        """What runs this model here, e.g. 'CPU (f32)'."""
        device = ", ".join(self._compiled.get_property("EXECUTION_DEVICES"))
        try:
            hint = self._compiled.get_property("INFERENCE_PRECISION_HINT")
            precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        except RuntimeError:
            precision = ""
        details = [precision] if precision else []
        if "CPU" in device and self._threads_shown:
            details.append(_threads(self._cpu_threads()))
        return f"{device} ({', '.join(details)})" if details else device

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        hwc = to_hwc(frame, self.input_hw)
        if hwc.shape[:2] != self.input_hw:
            hwc = cv2.resize(hwc, (self.input_hw[1], self.input_hw[0]), interpolation=cv2.INTER_LINEAR)
        if self.channels == 1 and hwc.shape[2] == 3:
            hwc = cv2.cvtColor(hwc, cv2.COLOR_BGR2GRAY)[:, :, None]
        tensor = hwc.transpose(2, 0, 1) if self.nchw else hwc
        return np.ascontiguousarray(tensor[None]).astype(self._dtype, copy=False)

    def try_fewer_threads(self, decided: Callable[[str], None], trial: ThreadTrial | None = None,
                          watch: LoadWatch | None = None) -> bool:
        """On the CPU with OpenVINO's default threads (no ``--cpu-threads``), compile the model again with one
        thread fewer, on a thread of its own, and let the Lambda's loop pick one (``thread_trial``); try them
        again when the loop's rate has moved since (``watch``). ``decided`` gets a sentence for people each time
        it has chosen. False when there is nothing to try."""
        if self._device != "CPU" or devices.cpu_threads() is not None or self._trials is not None:
            return False
        if self.threads < 2:
            return False
        fewer = {**self._config, "INFERENCE_NUM_THREADS": str(self.threads - 1), "ENABLE_CPU_PINNING": "NO"}
        self._trials = _Trials((self.threads, self.threads - 1), (self._config, fewer), decided,
                               trial or ThreadTrial(), watch or LoadWatch())
        with self._lock:
            self._start_trial(time.perf_counter())
        return True

    def _start_trial(self, now: float) -> None:
        """Compile the candidate not running on a thread of its own, once this process has no other trial."""
        ts = self._trials
        if ts is None or not ts.wanted or ts.compiling or not TURN.take(self, now):
            return
        ts.wanted, ts.compiling = False, True
        other = 1 - ts.running
        # not a daemon: a process that ends while OpenVINO compiles on a daemon thread aborts in C++ (terminate)
        threading.Thread(target=self._compile_other, args=(ts, other), name="openvino-threads-trial").start()

    def _compile_other(self, ts: _Trials, other: int) -> None:
        try:
            compiled = devices.compile_model(self._target, self._device, ts.configs[other], with_core=self._core)
            request = compiled.create_infer_request()
            port = compiled.input(0)
            request.infer({0: np.zeros(list(port.get_shape()), port.get_element_type().to_dtype())})  # warm
            self._release_mapped_files()
        except Exception as exc:  # noqa: BLE001 - the trial is optional: the Lambda goes on as it was
            log.warning("%s: compiling with %s failed, keeping %d: %s", self.name, _threads(ts.threads[other]),
                        ts.threads[ts.running], exc)
            ts.compiling = False  # and not wanted again: the watch is not started
            TURN.give(self)
            return
        with self._lock:
            ts.compiling = False
            self._trial = _Trial(ts.trial.fresh(ts.running), other, compiled, request)

    def _release_mapped_files(self) -> None:
        """The compile for the trial mapped the weights (or the cached blob) again: give those pages back."""
        weights = Path(self._target).with_suffix(".bin") if isinstance(self._target, str) else None
        released = release_weights(weights, self._config.get("CACHE_DIR", ""))
        log.debug("%s: released %d MB of mapped weights", self.name, released >> 20)

    def _request_for_this_call(self) -> ov.InferRequest:
        """The running request, or during a trial the one whose turn it is; ends the trial once it has chosen, and
        starts one again when the watch says the loop's rate has moved."""
        now = time.perf_counter()
        t, ts = self._trial, self._trials
        if ts is None:
            return self._request
        if t is None:
            if ts.watch is not None and ts.watch.next_call(now):
                log.info("%s: the Lambda's loop now runs %.1f/s, against %.1f/s when its threads were chosen: "
                         "trying %s and %s again", self.name, ts.watch.seen, ts.watch.rate, *map(_threads, ts.threads))
                ts.watch, ts.wanted = None, True
            self._start_trial(now)
            return self._request
        candidate = t.trial.next_call(now)
        self.threads = ts.threads[candidate]
        if t.trial.chosen is None:
            return t.request if candidate == t.other else self._request
        kept, before = t.trial.chosen, ts.running
        if kept == t.other:
            self._compiled, self._request = t.compiled, t.request
        self._trial, self._threads_shown, ts.running = None, True, kept  # the other compiled model is released here
        TURN.give(self)
        rates = t.trial.rates()
        ts.settle_s = min(ts.settle_s * 2, MAX_SETTLE_S) if ts.rounds and kept == before else ts.watch_template.settle_s
        ts.rounds += 1
        ts.watch = ts.watch_template.started(rates[kept], now, ts.settle_s)
        try:
            ts.decided(f"OpenVINO runs {self.name} on {_threads(ts.threads[kept])}: "
                       f"the Lambda's loop ran {rates[kept]:.1f}/s with {ts.threads[kept]} and "
                       f"{rates[1 - kept]:.1f}/s with {ts.threads[1 - kept]}")
        except Exception:  # noqa: BLE001 - a report that fails must not fail the Lambda's inference
            log.exception("%s: reporting the threads kept failed", self.name)
        return self._request

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run on one input tensor already in the network's layout; outputs in the graph's order (copied)."""
        with self._lock:
            request = self._request_for_this_call()
            request.infer({0: tensor})
            return [np.array(request.get_output_tensor(i).data) for i in range(len(self._out_names))]

    def infer(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.run(self.prepare(frame))
        return {name: np.asarray(out, dtype=np.float32).reshape(-1)
                for name, out in zip(self._out_names, outputs, strict=True)}
