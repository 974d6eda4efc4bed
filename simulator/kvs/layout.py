"""Where a stream's recording lives on disk and how its files are named.

``<artifacts>/kinesis-video/<stream>/`` holds the stream's H.264 segments, named by the UTC capture time of their
first frame (``20261201T071110.559Z.mp4``; a file's modification time is the time of its last frame), and one
``.recorder-<pid>.json`` per process recording into the folder: what it is writing now and its counters. A segment
named as ``current`` in the status file of a live process is still growing (fragmented MP4: playable as far as
it is written); every other segment is finished.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from simulator.ipc.pids import pid_alive

KVS_FOLDER = "kinesis-video"
SEGMENT_SUFFIX = ".mp4"
STATUS_PREFIX = ".recorder-"
MAX_STREAM_NAME = 256
BUFFER_SECONDS = 300  # retention 0: Kinesis Video keeps no data, only its 5-minute host buffer

_STREAM_NAME = re.compile(r"^[a-zA-Z0-9_.\-]{1,256}$")  # Kinesis Video's own rule for stream names
_SEGMENT = re.compile(r"^(\d{8}T\d{6}\.\d{3}Z)(?:-(\d+))?\.mp4$")
_TIME_FORMAT = "%Y%m%dT%H%M%S"

CloudTarget = Literal["local", "aws", "none"]


class SinkStatus(BaseModel):
    """Where finished segments go: the local cloud's S3 (``local``), nowhere because real Kinesis Video needs the
    producer SDK (``aws``), or nowhere because no cloud is configured (``none``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: CloudTarget = "none"
    stream_created: bool = False
    uploaded: int = 0
    errors: int = 0
    last_error: str | None = None


class RecorderStatus(BaseModel):
    """What one process recording a stream says about it (``.recorder-<pid>.json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stream: str
    pid: int
    recording: bool
    current: str | None = None
    width: int = 0
    height: int = 0
    max_fps: float
    segment_seconds: float
    retention_hours: int
    frames: int = 0
    dropped: int = 0
    segments: int = 0
    error: str | None = None
    sink: SinkStatus = SinkStatus()
    updated: float


def validate_stream_name(name: object) -> str:
    """``name`` if Kinesis Video accepts it as a stream name (1-256 of ``a-z A-Z 0-9 _ . -``), else ValueError."""
    if not isinstance(name, str):
        raise TypeError(f"stream_name must be a string, got {type(name).__name__} {name!r}")
    if not _STREAM_NAME.match(name) or set(name) == {"."}:
        raise ValueError(f"invalid Kinesis Video stream name {name!r}: use 1 to {MAX_STREAM_NAME} characters "
                         "from a-z, A-Z, 0-9, '_', '.' and '-' (not only dots)")
    return name


def streams_root(artifacts: Path) -> Path:
    return Path(artifacts) / KVS_FOLDER


def stream_folder(artifacts: Path, stream: str) -> Path:
    return streams_root(artifacts) / validate_stream_name(stream)


def segment_name(time_ns: int, folder: Path | None = None) -> str:
    """The file name of a segment whose first frame was captured at ``time_ns`` (UTC), unique in ``folder``."""
    moment = datetime.fromtimestamp(time_ns / 1e9, tz=timezone.utc)
    stem = f"{moment.strftime(_TIME_FORMAT)}.{moment.microsecond // 1000:03d}Z"
    name, n = stem + SEGMENT_SUFFIX, 1
    while folder is not None and (folder / name).exists():
        name, n = f"{stem}-{n}{SEGMENT_SUFFIX}", n + 1
    return name


def segment_start(name: str) -> datetime | None:
    """The UTC start time a segment's name carries, or None if ``name`` is not a segment's name."""
    m = _SEGMENT.match(name)
    if m is None:
        return None
    stamp, millis = m.group(1)[:-5], int(m.group(1)[-4:-1])
    return datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=timezone.utc, microsecond=millis * 1000)


def is_segment_name(name: str) -> bool:
    return _SEGMENT.match(name) is not None


def segment_files(folder: Path) -> list[Path]:
    """The folder's segments, oldest first."""
    try:
        names = [e.name for e in os.scandir(folder) if e.is_file() and is_segment_name(e.name)]
    except FileNotFoundError:
        return []
    return [folder / n for n in sorted(names)]


def fragments(path: Path) -> int | None:
    """How many fragments (``moof`` boxes) an MP4 file holds, reading only box headers; None if the file is not
    an MP4 (its first box is not ``ftyp``). A segment with 0 holds no frame yet (or never will: its process was
    killed before the first fragment)."""
    count, offset = 0, 0
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            while offset + 8 <= size:
                f.seek(offset)
                head = f.read(16)
                box_size, kind = struct.unpack(">I4s", head[:8])
                if offset == 0 and kind != b"ftyp":
                    return None
                if box_size == 1 and len(head) == 16:
                    box_size = struct.unpack(">Q", head[8:16])[0]
                elif box_size == 0:
                    box_size = size - offset
                if box_size < 8 or offset + box_size > size:
                    break  # a box still being written
                count += kind == b"moof"
                offset += box_size
    except FileNotFoundError:
        return None
    return count if offset else None


def status_path(folder: Path, pid: int) -> Path:
    return folder / f"{STATUS_PREFIX}{pid}.json"


def write_status(folder: Path, status: RecorderStatus) -> None:
    """Replace this process's status file atomically (readers never see half a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".status-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(status.model_dump_json())
        os.replace(tmp, status_path(folder, status.pid))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_statuses(folder: Path, *, live_only: bool = True) -> list[RecorderStatus]:
    """The status files in ``folder`` (of live processes only, unless told otherwise); unreadable ones are skipped."""
    found: list[RecorderStatus] = []
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(STATUS_PREFIX) and e.name.endswith(".json")]
    except FileNotFoundError:
        return found
    for entry in entries:
        try:
            status = RecorderStatus.model_validate_json(Path(entry.path).read_bytes())
        except (OSError, ValidationError, json.JSONDecodeError):
            continue
        if not live_only or pid_alive(status.pid):
            found.append(status)
    return found


def remove_stale_statuses(folder: Path) -> None:
    """Remove the status files of processes that are gone (a Lambda process killed while recording)."""
    for status in read_statuses(folder, live_only=False):
        if status.pid != os.getpid() and not pid_alive(status.pid):
            status_path(folder, status.pid).unlink(missing_ok=True)


def growing_segments(folder: Path) -> set[str]:
    """Names of the segments live processes are writing now."""
    return {s.current for s in read_statuses(folder) if s.recording and s.current}


HEADER_ONLY_MAX = 4096  # only files this small are read for fragments: an MP4 header (ftyp + moov) is under 1 kB


def frameless(folder: Path) -> list[Path]:
    """Finished segments that are MP4 headers without a single fragment (left by a process killed at once)."""
    growing = growing_segments(folder)
    small = []
    for path in segment_files(folder):
        try:
            if path.name not in growing and path.stat().st_size <= HEADER_ONLY_MAX:
                small.append(path)
        except FileNotFoundError:
            continue
    return [p for p in small if fragments(p) == 0]


def expired(folder: Path, retention_hours: int, now: float | None = None) -> list[Path]:
    """Finished segments whose last frame is older than the retention (0 hours: the 5-minute host buffer)."""
    keep_seconds = retention_hours * 3600 if retention_hours > 0 else BUFFER_SECONDS
    limit = (time.time() if now is None else now) - keep_seconds
    growing = growing_segments(folder)
    old: list[Path] = []
    for path in segment_files(folder):
        try:
            if path.name not in growing and path.stat().st_mtime < limit:
                old.append(path)
        except FileNotFoundError:
            continue
    return old
