"""``awscam``: the camera and the inference engine as a DeepLens Lambda saw them."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from simulator.inference.loader import load_model
from simulator.inference.pacing import pacer_for
from simulator.inference.results import parse_result
from simulator.ipc import context
from simulator.ipc.frames import FrameSlot
from simulator.ipc.process import stats

log = logging.getLogger("awscam")

_slot: FrameSlot | None = None
_last_index = 0  # index of the last frame returned
_stale = 0
_copy_until = 0.0  # monotonic s: frames are copied, not leased, until then (after a read of the same frame again)
_lock = threading.Lock()
NEXT_FRAME_WAIT = 0.5  # s: the longest getLastFrame waits for a frame the camera passed over when it came early
COPY_AFTER_STALE = 5.0  # s of copies after a Lambda came back before the camera's next frame
TRY_THREADS_AFTER = 3.0  # s after the first inference before the threads are tried (Model._try_fewer_threads)


class Runtime:
    DLDT = 0
    NEO = 1


def getLastFrame():  # noqa: N802 - the device's name
    """``(ret, frame)``: the newest camera frame (BGR uint8, the profile's format), the Lambda's own.

    The Lambda's own without a 12 MB copy where it can be: the frame slot's buffer itself, which the camera does
    not write again while the frame (or any view of it) is referenced. It is copied instead while something else
    reads the camera's frames (a viewer, a recorder: they must not see the Lambda's drawing), and for a few
    seconds after a call came back before the camera's next frame (the same frame again must come back as the
    camera made it, and a Lambda faster than its camera gains nothing from the buffer).

    It does not wait for a new frame: if none arrived since the last call, the same frame comes back and this is
    counted (``stale_frames`` in the status) and logged, rather than passed off as new. (The camera makes only
    the frames a reader is expected to read; when this call comes sooner than expected, it waits for the camera's
    next frame, at most one frame interval, rather than return the frame it already returned. With
    ``--every-frame`` it always waits for the clip's next frame, at most ``NEXT_FRAME_WAIT``.)
    """
    global _slot, _last_index, _stale, _copy_until
    with _lock:
        if _slot is None:
            _slot = FrameSlot.attach(context.current().frames_path, lessee=True)
        lease = time.monotonic() >= _copy_until and not _slot.copied_recently()
        frame = _slot.read(seen=_last_index or None, wait=NEXT_FRAME_WAIT, lease=lease)
        deadline = time.monotonic() + 1.0
        while frame is None and _last_index and time.monotonic() < deadline:
            frame = _slot.reread()  # a read that kept racing the camera's writes: try again, briefly
        if frame is None:
            return False, None
        if frame.index == _last_index:
            _copy_until = time.monotonic() + COPY_AFTER_STALE
            _stale += 1
            stats().add("stale_frames")
            if _stale in (1, 10, 100) or _stale % 1000 == 0:
                log.warning("getLastFrame returned the same frame again (%d time%s so far): the Lambda asks for "
                            "frames faster than the camera delivers them", _stale, "" if _stale == 1 else "s")
        _last_index = frame.index
    stats().add("frames_read")
    return True, frame.image


class Model:
    """``awscam.Model(model_path, loading_config, runtime=0)``: a model on OpenVINO (GPU if present, else CPU)."""

    def __init__(self, model_path, loading_config, runtime=0) -> None:
        if runtime == Runtime.NEO:
            raise RuntimeError(
                f"awscam.Model({model_path!r}, runtime=1): the Neo runtime (SageMaker Neo compiled artifacts) "
                "is not supported by the simulator; use runtime=0 with an IR, ONNX, TFLite or TF model")
        if runtime != Runtime.DLDT:
            raise ValueError(f"awscam.Model: unknown runtime {runtime!r} (0 = DLDT, 1 = Neo)")
        config = loading_config or {}
        requested = "GPU" if config.get("GPU", 0) else "CPU"
        ctx = context.current()
        path = ctx.remap(model_path)
        try:
            self._model = load_model(path, requested, shown_path=str(model_path))
        except Exception as exc:  # a Lambda often catches it and only publishes it: the log says it too
            log.error("awscam.Model(%r): %s", model_path, exc)
            raise
        self.input_hw = self._model.input_hw
        self._pacer = pacer_for(self._model, ctx.profile, requested, str(model_path))
        self._slow_reported = False
        self._first_inference: float | None = None
        self._threads_tried = False
        stats().update(model=str(model_path), model_input=list(self.input_hw), device=requested,
                       runs_on=self._model.runs_on())
        log.info("model %s loaded (input %dx%d)", model_path, self.input_hw[1], self.input_hw[0])
        if self._pacer is not None:
            p = self._pacer.prediction
            log.info("profile %s: predicted %.1f ms per inference on its %s (%s)%s", ctx.profile, p.ms, p.device,
                     p.precision, f"; {p.note}" if getattr(p, "note", None) else "")

    def doInference(self, frame):  # noqa: N802 - the device's name
        """``{output_name: flat float32 array}`` for one frame (already resized by the caller)."""
        if frame is None:
            raise ValueError("doInference: frame is None (did getLastFrame fail?)")
        start = time.perf_counter()
        if self._first_inference is None:
            self._first_inference = start
        elif not self._threads_tried and start - self._first_inference >= TRY_THREADS_AFTER:
            self._threads_tried = True
            if self._pacer is None:
                self._try_fewer_threads()
        out = self._model.infer(np.asarray(frame))
        host_ms = (time.perf_counter() - start) * 1000.0
        status = None
        if self._pacer is not None:
            status = self._pacer.pace(start, host_ms)
            if status.get("host_too_slow") and not self._slow_reported:
                self._slow_reported = True
                log.warning("%s", status.get("status"))
        s = stats()
        s.add("inferences")
        s.update(host_ms=round(host_ms, 3), pacing=status)
        return out

    def _try_fewer_threads(self) -> None:
        """An unpaced model on OpenVINO's default CPU threads is also tried with one fewer (``thread_trial``); a
        paced one waits for its profile's time, and either would do."""
        try_fewer = getattr(self._model, "try_fewer_threads", None)
        if try_fewer is None:
            return

        def decided(text: str) -> None:
            log.info("%s", text)
            stats().update(runs_on=self._model.runs_on())

        try_fewer(decided)

    def parseResult(self, model_type, raw):  # noqa: N802 - the device's name
        """``{model_type: [...]}`` for 'classification', 'ssd' or 'segmentation' (see simulator.inference.results)."""
        return parse_result(model_type, raw, self.input_hw, self._model.output_shapes)

