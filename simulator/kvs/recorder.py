"""Records the camera's frame slot into H.264 segments, on background threads of the calling process.

A *sampler* thread takes the newest camera frame at most ``max_fps`` times a second (at the camera's own rate
when it is slower), scales it to at most ``max_side`` pixels and hands it to the *encoder* thread through a
queue of ``queue_frames``; when the encoder falls behind, frames are dropped and counted, never queued without
bound. The encoder writes one segment every ``segment_seconds`` (a new file also when the frame size changes or
frames stop coming), deletes segments older than the retention, and hands each finished segment to a
:class:`SegmentSink` (the cloud uploader). Neither thread ever blocks the caller: ``start()`` returns at once and
``stop()`` waits only for the last segment to be closed (x264 runs without look-ahead, so this is quick).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from simulator.ipc.frames import FrameSlot
from simulator.kvs import layout
from simulator.kvs.encoder import SegmentWriter, even_size, require_av, to_encoder_size

log = logging.getLogger(__name__)

_STOP = object()
STATUS_EVERY_S = 1.0


class SegmentSink(Protocol):
    def segment_done(self, path: Path) -> None: ...
    def segment_expired(self, path: Path) -> None: ...
    def status(self) -> layout.SinkStatus: ...


@dataclass(frozen=True)
class RecorderSettings:
    """15 fps and 1280 px: software H.264 costs about 15-20 ms per 1280x720 frame on one x86 core (x264
    ultrafast), so a quarter of a core at 15 fps, left over from the Lambda's inference in the same process (and
    within reach of a Raspberry Pi); the device encoded in hardware. 15 fps is plenty to review or to feed video
    analysis, and a 4 MP frame would cost four times as much for detail no viewer here shows."""

    max_fps: float = 15.0
    max_side: int = 1280
    segment_seconds: float = 10.0
    queue_frames: int = 4
    retention_hours: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.max_fps <= 60:
            raise ValueError(f"max_fps must be in (0, 60], got {self.max_fps}")
        if self.max_side < 16:
            raise ValueError(f"max_side must be at least 16, got {self.max_side}")
        if self.segment_seconds < 1:
            raise ValueError(f"segment_seconds must be at least 1, got {self.segment_seconds}")
        if self.queue_frames < 1:
            raise ValueError(f"queue_frames must be at least 1, got {self.queue_frames}")
        if self.retention_hours < 0:
            raise ValueError(f"retention_hours must be 0 or more, got {self.retention_hours}")


@dataclass(frozen=True)
class RecorderStats:
    frames: int
    dropped: int
    segments: int
    current: str | None
    error: str | None


class Recorder:
    """Record the frames of ``frames_path`` into ``folder`` while started. ``start()``/``stop()`` may be called
    any number of times, from any thread; a stop finishes the current segment and the next start opens a new one."""

    def __init__(self, stream: str, frames_path: Path, folder: Path, settings: RecorderSettings | None = None,
                 sink: SegmentSink | None = None,
                 on_status: Callable[[layout.RecorderStatus], None] | None = None) -> None:
        self.stream = layout.validate_stream_name(stream)
        self.frames_path = Path(frames_path)
        self.folder = Path(folder)
        self.settings = settings or RecorderSettings()
        self.sink = sink
        self.on_status = on_status
        self._lock = threading.Lock()  # start/stop
        self._count_lock = threading.Lock()
        self._status_lock = threading.Lock()  # one status written at a time, from the latest state
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue: queue.Queue = queue.Queue(maxsize=self.settings.queue_frames)
        self._slot: FrameSlot | None = None
        self._writer: SegmentWriter | None = None
        self._size: tuple[int, int] = (0, 0)
        self._frames = self._dropped = self._segments = 0
        self._error: str | None = None
        self._failed = threading.Event()
        self._straggler: threading.Thread | None = None  # an encoder that did not finish when told to stop
        self._closed = False  # close() removed the status file: nothing writes it again until the next start()

    # --- control ----------------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True while started and recording (False after stop() or after a failure, said in the log)."""
        return bool(self._threads) and not self._failed.is_set()

    def start(self) -> None:
        """Begin recording (no-op if already recording). EncoderUnavailableError without PyAV; OSError if the
        camera's frame slot cannot be opened."""
        with self._lock:
            if self._threads and not self._failed.is_set():
                return
            self._join_threads(timeout=10.0)
            require_av()
            self.folder.mkdir(parents=True, exist_ok=True)
            self._closed = False
            layout.remove_stale_statuses(self.folder)
            if self._slot is None:
                self._slot = FrameSlot.attach(self.frames_path)
            self._stop.clear()
            self._failed.clear()
            self._error = None
            frames: queue.Queue = queue.Queue(maxsize=self.settings.queue_frames)
            self._queue = frames
            self._threads = [
                threading.Thread(target=self._sample, args=(frames,), name=f"kvs-{self.stream}-sampler", daemon=True),
                threading.Thread(target=self._encode, args=(frames,), name=f"kvs-{self.stream}-encoder", daemon=True),
            ]
            for path in layout.frameless(self.folder):  # left by a Lambda process killed at once
                path.unlink(missing_ok=True)
            self._expire()
            self._write_status(recording=True)
            for t in self._threads:
                t.start()
        log.info("Kinesis Video stream %s: recording the camera into %s (at most %g fps, %d px, %g s segments)",
                 self.stream, self.folder, self.settings.max_fps, self.settings.max_side, self.settings.segment_seconds)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop recording and finish the current segment (no-op if not recording)."""
        with self._lock:
            if not self._threads:
                return
            self._join_threads(timeout)
            self._write_status(recording=False)
        log.info("Kinesis Video stream %s: stopped (%d frames, %d dropped, %d segment%s)",
                 self.stream, self._frames, self._dropped, self._segments, "" if self._segments == 1 else "s")

    def close(self, timeout: float = 10.0) -> None:
        """Stop, release the frame slot and remove this process's status file: the recording is over, and the
        segments say the rest. An encoder still writing (it did not finish within ``timeout``) keeps the file, so
        its segment is not taken for an abandoned one (a later start removes it once this process has ended)."""
        self.stop(timeout)
        with self._lock:
            if self._slot is not None:
                self._slot.close()
                self._slot = None
            straggler = self._straggler
            if straggler is not None and straggler.is_alive():
                return
            with self._status_lock:
                self._closed = True
                layout.status_path(self.folder, os.getpid()).unlink(missing_ok=True)

    def refresh_status(self) -> None:
        """Write the status file again now (the sink calls it when an upload finishes)."""
        try:
            with self._status_lock:
                self._write_status_locked(recording=self.active)
        except OSError:
            log.debug("Kinesis Video stream %s: the status file could not be written", self.stream, exc_info=True)

    def stats(self) -> RecorderStats:
        writer = self._writer
        with self._count_lock:
            return RecorderStats(self._frames, self._dropped, self._segments,
                                 writer.path.name if writer is not None else None, self._error)

    def _join_threads(self, timeout: float) -> None:
        if not self._threads:
            return
        self._stop.set()
        sampler, encoder = self._threads
        sampler.join(timeout)
        if encoder.is_alive():
            try:
                self._queue.put(_STOP, timeout=timeout)  # after the frames already queued
            except queue.Full:
                pass
        encoder.join(timeout)
        if encoder.is_alive():
            log.warning("Kinesis Video stream %s: the encoder did not finish within %g s", self.stream, timeout)
        self._straggler = encoder if encoder.is_alive() else None
        self._threads = []

    # --- threads ----------------------------------------------------------------------------------------

    def _sample(self, frames: queue.Queue) -> None:
        interval = 1.0 / self.settings.max_fps
        slot = self._slot
        last = 0
        due = time.monotonic()
        try:
            while not self._stop.is_set() and not self._failed.is_set() and slot is not None:
                if slot.seq != last:
                    frame = slot.read()
                    if frame is not None and frame.index != last:
                        last = frame.index
                        self._offer(frames, frame.image, frame.timestamp_ns)
                due += interval
                delay = due - time.monotonic()
                if delay < 0:
                    due, delay = time.monotonic(), 0.0
                self._stop.wait(delay)
        except Exception as exc:  # noqa: BLE001 - reported in the log and the status; the Lambda goes on
            self._fail(f"reading the camera failed: {exc}")
            log.exception("Kinesis Video stream %s: reading the camera failed", self.stream)

    def _offer(self, frames: queue.Queue, image: np.ndarray, timestamp_ns: int) -> None:
        h, w = image.shape[:2]
        size = even_size(w, h, self.settings.max_side)
        try:
            frames.put_nowait((to_encoder_size(image, size), timestamp_ns))
        except queue.Full:
            with self._count_lock:
                self._dropped += 1

    def _encode(self, frames: queue.Queue) -> None:
        last_status = time.monotonic()
        opened_at = 0.0
        try:
            while True:
                try:
                    item = frames.get(timeout=0.2)
                except queue.Empty:
                    item = None
                if item is _STOP:
                    break
                now = time.monotonic()
                if item is not None:
                    image, ts = item
                    size = (image.shape[1], image.shape[0])
                    if self._writer is not None and (size != self._writer.size
                                                      or self._writer.duration_s >= self.settings.segment_seconds):
                        self._finish_segment()
                    if self._writer is None:
                        self._open_segment(size, ts)
                        opened_at = now
                    assert self._writer is not None
                    self._writer.write(image, ts)
                    with self._count_lock:
                        self._frames += 1
                elif self._writer is not None and now - opened_at > self.settings.segment_seconds + 1.0:
                    self._finish_segment()  # frames stopped coming: do not keep a segment open
                elif self._stop.is_set() and frames.empty():
                    break
                if now - last_status >= STATUS_EVERY_S:
                    last_status = now
                    self._write_status(recording=True)
        except Exception as exc:  # noqa: BLE001 - reported in the log and the status; the Lambda goes on
            self._fail(f"encoding failed: {exc}")
            log.exception("Kinesis Video stream %s: encoding failed", self.stream)
        finally:
            try:
                self._finish_segment()
            except Exception:  # noqa: BLE001 - a file that cannot be closed is said once
                log.exception("Kinesis Video stream %s: the last segment could not be finished", self.stream)
                self._writer = None

    def _open_segment(self, size: tuple[int, int], timestamp_ns: int) -> None:
        path = self.folder / layout.segment_name(timestamp_ns, self.folder)
        self._writer = SegmentWriter(path, size[0], size[1], self.settings.max_fps)
        self._size = size
        self._write_status(recording=True)

    def _finish_segment(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        writer.close()
        if writer.frames == 0:
            writer.path.unlink(missing_ok=True)
            return
        with self._count_lock:
            self._segments += 1
        self._write_status(recording=not self._stop.is_set())
        if self.sink is not None:
            self.sink.segment_done(writer.path)
        self._expire()

    def _expire(self) -> None:
        for path in layout.expired(self.folder, self.settings.retention_hours):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            log.info("Kinesis Video stream %s: %s is past the retention, deleted", self.stream, path.name)
            if self.sink is not None:
                self.sink.segment_expired(path)

    def _fail(self, message: str) -> None:
        with self._count_lock:
            self._error = message
        self._failed.set()
        try:
            self._write_status(recording=False)
        except OSError:
            pass

    def _write_status(self, recording: bool) -> None:
        with self._status_lock:
            self._write_status_locked(recording)

    def _write_status_locked(self, recording: bool) -> None:
        if self._closed:  # a late upload's refresh after close(): the recording is over, its status gone
            return
        s = self.stats()
        status = layout.RecorderStatus(
            stream=self.stream, pid=os.getpid(), recording=recording and not self._failed.is_set(),
            current=s.current if recording else None, width=self._size[0], height=self._size[1],
            max_fps=self.settings.max_fps, segment_seconds=self.settings.segment_seconds,
            retention_hours=self.settings.retention_hours, frames=s.frames, dropped=s.dropped, segments=s.segments,
            error=s.error, sink=self.sink.status() if self.sink is not None else layout.SinkStatus(),
            updated=time.time())
        layout.write_status(self.folder, status)
        if self.on_status is not None:
            self.on_status(status)
