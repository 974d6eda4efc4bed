"""The always-running camera: source → the profile's camera format → the latest-frame slot.

It runs in a thread of the core process. Playback of files follows their own frame rate (falling behind skips
frames rather than queueing them); the profile's fps caps the rate frames are taken at. A source that stops
delivering is reopened with backoff for as long as the run lasts, and ``stats.state`` says so meanwhile; the frame
rate is measured over the last second, so it falls to 0 while no frame arrives.

Every frame is taken at the camera's rate, but only those someone will read are converted to the profile's format
and published: the readers' notes in the slot (the Lambda's ``getLastFrame``) and reads of ``latest`` in this
process say when each reader is expected back (see ``simulator.ipc.frames``). With no reader, or one that reads
faster than the camera delivers, that is every frame. A file's frame that is passed over is only decoded (to keep
its place), never converted to BGR or copied; a webcam's or stream's is taken off the device on the source's reader
thread (which asks the camera as each frame comes) and never decoded or converted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from simulator.camera.base import PASSED, Source
from simulator.camera.live import describe
from simulator.camera.playback import catch_up
from simulator.errors import SourceError
from simulator.ipc.frames import Frame, FrameSlot, ReadClock
from simulator.profiles.schema import CameraSpec

log = logging.getLogger(__name__)
KEEP_UP_FRAMES = 30  # --every-frame: a Lambda waiting for this many recent frames' share ...
KEEP_UP_WAITED = 0.8  # ... of them as they were made is held back by the camera (see Camera._note_waited)


def fit_to_format(image: np.ndarray, width: int | None, height: int | None,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Scale and centre-crop to ``width`` x ``height`` (as a sensor of that format would see the scene).

    The centred region of ``image`` with the format's aspect ratio is resized in one pass, into ``out`` when it is
    given (the camera passes the slot's free buffer: no intermediate image, no copy)."""
    if width is None or height is None:
        return image
    ih, iw = image.shape[:2]
    if (iw, ih) == (width, height):
        if out is None:
            return image
        out[...] = image
        return out
    if iw * height > ih * width:  # wider than the format: the sides fall outside the sensor
        cw, ch = max(1, round(ih * width / height)), ih
    else:
        cw, ch = iw, max(1, round(iw * height / width))
    x0, y0 = (iw - cw) // 2, (ih - ch) // 2
    interp = cv2.INTER_AREA if cw > width else cv2.INTER_LINEAR
    resized = cv2.resize(image[y0: y0 + ch, x0: x0 + cw], (width, height), dst=out, interpolation=interp)
    if out is not None and resized is not out:  # OpenCV made a new array (another type or shape): copy it in
        out[...] = resized
        return out
    return resized


@dataclass(frozen=True)
class CameraStats:
    """What the camera is doing, as of the moment ``Camera.stats`` was read."""

    fps: float = 0.0  # frames taken over the last second (0 once none came for a second)
    frames: int = 0  # frames taken since the start (published, or passed over: no reader was expected)
    dropped: int = 0  # source frames skipped (playback behind, or the profile's camera is slower)
    reconnects: int = 0  # times the source was reopened after it stopped delivering
    error: str | None = None  # why the source is not delivering right now
    state: str = "starting"  # starting | running | reconnecting (attempt N, last error: …) | stopped | failed: …
    skipped: int = 0  # unreadable entries passed over (image folders)
    published: int = 0  # frames converted and put into the slot (the rest of ``frames`` nobody was to read)


class FrameRate:
    """Events per second over the trailing ``window`` seconds; safe to read from any thread."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._times.append(now)
            self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._trim(now)
            return len(self._times) / self.window


class Camera:
    """``start()`` opens the source (raising SourceError if it cannot) and begins publishing frames."""

    retry_first = 0.5  # seconds before the first reopen of a source that stopped delivering
    retry_max = 10.0  # the backoff doubles up to this, and keeps trying for as long as the camera runs

    def __init__(self, source: Source, spec: CameraSpec, slot_path: Path, realtime: bool = True,
                 every_frame: bool = False) -> None:
        """``every_frame``: a file source advances one frame each time a Lambda has read the newest (every frame
        in order, at the Lambda's pace) instead of playing at its own rate."""
        self.source, self.spec, self.slot_path = source, spec, Path(slot_path)
        self.realtime = realtime
        self.every_frame = every_frame
        self.slot: FrameSlot | None = None
        self._latest: Frame | None = None
        self._local_reads = ReadClock()  # reads of ``latest`` in this process (viewers, thumbnails)
        self._frames = self._dropped = self._reconnects = self._published = 0
        self._interval = 1 / 30  # seconds between frames taken (measured as they come)
        self._last_took = 0.0
        self._next_pub = 0.0  # the profile's camera rate: when the next frame may be taken (monotonic s)
        self._slow_said = False
        self._error: str | None = None
        self._state = "starting"
        self._rate = FrameRate()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waited: deque[bool] = deque(maxlen=KEEP_UP_FRAMES)  # --every-frame: was a Lambda waiting for it?

    @property
    def stats(self) -> CameraStats:
        return CameraStats(fps=self._rate.rate(), frames=self._frames, dropped=self._dropped,
                           reconnects=self._reconnects, error=self._error, state=self._state,
                           skipped=self.source.skipped, published=self._published)

    @property
    def latest(self) -> Frame | None:
        """The newest frame published, as a copy of this process's own (read by its viewers; each read counts as a
        reader's). Frames are made in the slot itself, so a new one is copied out once, on its first read."""
        self._local_reads.tick()
        slot, cached = self.slot, self._latest
        if slot is not None:
            slot.note_copied_read()  # while viewers read, the Lambda copies its frames too: they stay clean
        if slot is not None and (cached is None or cached.index != slot.seq):
            got = slot.reread()
            if got is not None:
                self._latest = cached = got
        return cached

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames published."""
        assert self.slot is not None, "camera not started"
        return self._size

    @property
    def alive(self) -> bool:
        """The camera thread is running (a source outage keeps it running: it reconnects)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.every_frame and self.source.live:
            log.warning("camera: %s is live and cannot wait for the Lambda: its frames are taken as they come "
                        "(every frame in order needs a video file or images)", self.source.description)
            self.every_frame = False
        self.source.request_format(self.spec.width, self.spec.height, self.spec.fps)
        self.source.open()
        first = self.source.read()
        if first is None:
            self.source.close()
            raise SourceError(f"cannot read a first frame from {self.source.description}: {self.source.error}")
        fmt = (self.spec.width, self.spec.height)
        self._size = (fmt[0], fmt[1]) if fmt[0] and fmt[1] else (first.shape[1], first.shape[0])
        self.slot = FrameSlot.create(self.slot_path, *self._size)
        self.slot.step(self.every_frame)
        self._publish(first)
        self._state = "running"
        self._thread = threading.Thread(target=self._run, name="camera", daemon=True)
        self._thread.start()
        rate = self._target_rate()
        pace = ", one frame per frame the Lambda reads" if self.every_frame else f" @ {rate:g} fps" if rate else ""
        log.info("camera: %s → %dx%d%s", self.source.description, *self._size, pace)

    def _target_rate(self) -> float | None:
        rates = [r for r in (self.source.fps if self.realtime else None, self.spec.fps) if r]
        return min(rates) if rates else None

    def _publish(self, image: np.ndarray) -> None:
        """Fit ``image`` to the format straight into the slot's free buffer."""
        assert self.slot is not None
        w, h = self._size
        self.slot.write_with(lambda view: fit_to_format(image, w, h, out=view) is view, (h, w, 3), time.time_ns())
        self._published += 1
        self._took()

    def _publish_next(self) -> str | None:
        """Read the source's next frame straight into the slot's free buffer (decoded there when the source can,
        else fitted there): the 12 MB copy into the slot is saved. Returns why no frame came (None: published)."""
        assert self.slot is not None
        w, h = self._size
        why: list[str] = []

        def fill(view: np.ndarray) -> bool:
            try:
                image = self.source.read_into(view)
            except Exception as exc:  # noqa: BLE001 - a source that raises is a source that stopped delivering
                why.append(describe(exc))
                return False
            if image is None:
                why.append(self.source.error or f"no frame from {self.source.description}")
                return False
            if image is not view:
                fit_to_format(image, w, h, out=view)
            return True
        if self.slot.write_with(fill, (h, w, 3), time.time_ns()) is None:
            return why[0] if why else f"no frame from {self.source.description}"
        self._published += 1
        self._took()
        return None

    def _took(self) -> None:
        now = time.monotonic()
        if self._frames:
            self._interval += (min(now - self._last_took, 1.0) - self._interval) / 8
        self._last_took = now
        self._frames += 1
        self._rate.tick(now)

    def _wanted(self) -> bool:
        """Will a reader read the frame taken now (before the next one replaces it)?"""
        assert self.slot is not None
        rate = self._target_rate()
        local = self._local_reads.note()
        return self.slot.wanted(1.0 / rate if rate else self._interval, [local] if local.read_ns else [])

    def _takes_now(self) -> bool:
        """Asked by a live source's reader thread as each frame comes: will this frame be published? One that
        will not is never decoded (a webcam's MJPEG decode, a stream's conversion to BGR)."""
        if self.spec.fps and time.monotonic() < self._next_pub:
            return False
        return self._wanted()

    def _pass(self) -> None:
        """A frame taken that no reader was expected for: nothing made of it."""
        assert self.slot is not None
        self.slot.pass_frame()
        self._took()

    def _run(self) -> None:
        try:
            self._loop()
            self._state = "stopped"
        except Exception as exc:  # noqa: BLE001 - the status must say the camera died, not keep its last state
            log.exception("camera: the camera thread failed")
            self._error = describe(exc)
            self._state = f"failed: {self._error}"
        finally:  # the thread owns the source and the slot: nothing closes them under its feet
            self.source.close()
            if self.slot is not None:
                self.slot.close()

    def _read(self) -> tuple[np.ndarray | None, str | None]:
        try:
            image = self.source.read()
        except Exception as exc:  # noqa: BLE001 - a source that raises is a source that stopped delivering
            return None, describe(exc)
        return image, None if image is not None else self.source.error

    def _loop(self) -> None:
        src_fps = self.source.fps if (self.realtime and not self.source.live) else None
        cap_fps = self.spec.fps
        t0 = time.monotonic()
        n_src = 1  # source frames consumed (the first one was published in start())
        self._next_pub = t0  # the profile's camera rate: a schedule, so jitter in the source does not drop frames
        if self.source.live:
            self.source.offer(self._takes_now)
        try:
            if self.every_frame:
                self._step()
            else:
                self._play(src_fps, cap_fps, t0, n_src)
        finally:
            self.source.offer(None)

    def _read_newest(self) -> tuple[bool, float]:
        """Has a Lambda read the newest frame? When not: how long to sleep before looking again (until its reader
        is expected back, then every millisecond; half a millisecond while one waits for a frame: it reads the
        newest as soon as it sees it)."""
        assert self.slot is not None
        notes, newest = self.slot.reader_notes(), self.slot.seq
        if any(n.read_ns > self.slot.made_ns or n.waiting_seq == newest for n in notes):  # read it, or waits past it
            return True, 0.0
        if any(n.waiting_seq for n in notes):  # (its note's time is when it began to wait: no guide to its return)
            return False, 0.0005
        soonest = min((n.expected_ns for n in notes), default=0) - time.monotonic_ns()
        return False, min(max(soonest / 1e9, 0.001), 0.05)

    def _step(self) -> None:
        """Every frame in order: the next frame is made once a Lambda has read the newest. The slot says the camera
        steps (``FrameSlot.step``), so a Lambda back before that frame is ready waits for it rather than reread the
        last."""
        assert self.slot is not None
        while not self._stop.is_set():
            read, pause = self._read_newest()
            if not read:
                self._stop.wait(pause)
                continue
            why = self._publish_next()
            if why is not None and not self._stop.is_set():
                self._recover(why)
            elif why is None:
                self._note_waited()

    def _note_waited(self) -> None:
        """With --every-frame: when a Lambda was waiting for most recent frames as they were made, the camera holds
        it back (its decoding is slower than the Lambda's loop), and decodes faster if the source can."""
        assert self.slot is not None
        made = self.slot.seq
        self._waited.append(any(n.waiting_seq == made - 1 for n in self.slot.reader_notes()))
        if len(self._waited) == self._waited.maxlen and sum(self._waited) >= KEEP_UP_WAITED * len(self._waited):
            self._waited.clear()
            self._keep_up()

    def _keep_up(self) -> None:
        """The camera falls behind (its file's rate, or a Lambda waiting for its frames): decode faster if the
        source can."""
        if self.source.decode_faster():
            log.info("camera: %s is decoded on more threads to keep up", self.source.description)

    def _play(self, src_fps: float | None, cap_fps: float | None, t0: float, n_src: int) -> None:
        while not self._stop.is_set():
            if src_fps:  # a file plays at its own rate: wait for the next frame's time, skip if behind
                due = t0 + n_src / src_fps
                now = time.monotonic()
                if now < due:
                    self._stop.wait(due - now)
                    continue
                t0, n_src, skipped, moved = catch_up(t0, n_src, src_fps, self.source.skip)
                self._dropped += skipped
                if skipped:
                    self._keep_up()
                if moved:
                    self._slower_than_real_time()
            if not self.source.live:  # decide before decoding: a frame nobody takes or reads is only skipped
                now = time.monotonic()
                taken = not cap_fps or now >= self._next_pub
                if not taken or not self._wanted():
                    self.source.skip()
                    n_src += 1
                    if taken:
                        if cap_fps:
                            self._next_pub = max(self._next_pub + 1.0 / cap_fps, now - 1.0 / cap_fps)
                        self._pass()
                    else:
                        self._dropped += 1  # the profile's camera is slower than the source
                    continue
            if self.source.live:
                image, why = self._read()
                came = image is not None
            else:  # taken and wanted (decided above): made in the slot itself
                image, why = None, self._publish_next()
                came = why is None
            n_src += 1
            if not came:
                if self._stop.is_set():
                    break
                self._recover(why or f"no frame from {self.source.description}")
                t0, n_src = time.monotonic(), 0  # playback restarts its schedule after an outage
                continue
            now = time.monotonic()
            if cap_fps:
                if now < self._next_pub:
                    self._dropped += 1  # the profile's camera is slower than the source
                    continue
                self._next_pub = max(self._next_pub + 1.0 / cap_fps, now - 1.0 / cap_fps)
            if image is None:  # a file's frame: already published
                continue
            if image is PASSED or not self._wanted():
                self._pass()  # a live source's frame is read to keep up with it; nobody will read this one
                continue
            self._publish(image)

    def _slower_than_real_time(self) -> None:
        if not self._slow_said:
            self._slow_said = True
            log.warning("camera: %s decodes slower than its %g fps on this machine: it plays slower than real time",
                        self.source.description, self.source.fps or 0)

    def _recover(self, reason: str) -> None:
        """Reopen the source with backoff until it delivers again or the camera stops."""
        log.warning("camera: %s; reconnecting", reason)
        error, delay, attempt = reason, self.retry_first, 0
        while not self._stop.is_set():
            attempt += 1
            self._error = error
            self._state = f"reconnecting (attempt {attempt}, last error: {error})"
            self.source.close()
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, self.retry_max)
            try:
                self.source.open()
            except Exception as exc:  # noqa: BLE001 - the camera keeps trying; the status says why
                if describe(exc) != error:
                    log.info("camera: reconnect attempt %d: %s", attempt, describe(exc))
                error = describe(exc)
                continue
            if self._stop.is_set():
                return
            self._reconnects += 1
            self._error, self._state = None, "running"
            log.warning("camera: %s is back (reconnected after %d attempt%s)", self.source.description, attempt,
                        "" if attempt == 1 else "s")
            return

    def stop(self) -> None:
        self._stop.set()
        self.source.interrupt()
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                log.warning("camera: %s did not return from a read within 10 s; it is closed when it does",
                            self.source.description)
        else:  # never started: close what start() may have opened
            self.source.close()
            if self.slot is not None:
                self.slot.close()
            self._state = "stopped"
