"""What the viewers show of the Kinesis Video recordings: the streams under ``<artifacts>/kinesis-video/``, their
segments, and the latest segment to play. Read-only; safe to call while a Lambda process is recording."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from simulator.kvs import layout


class SegmentInfo(BaseModel):
    """One segment: its capture span (start from its name, end = its last write) and whether it is still growing."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: Path
    start: datetime
    end: datetime
    size: int
    recording: bool


class StreamInfo(BaseModel):
    """One stream folder: its segments' count and size, the latest segment, and whether a live process records."""

    model_config = ConfigDict(frozen=True)

    name: str
    folder: Path
    segments: int
    size: int
    latest: str | None
    first_start: datetime | None
    last_end: datetime | None
    recording: bool
    frames: int = 0
    dropped: int = 0
    width: int = 0
    height: int = 0
    cloud: layout.CloudTarget = "none"
    uploaded: int = 0
    error: str | None = None


def segments(artifacts: Path, stream: str) -> list[SegmentInfo]:
    """The stream's segments, oldest first (an invalid stream name is a ValueError)."""
    folder = layout.stream_folder(artifacts, stream)
    growing = layout.growing_segments(folder)
    found: list[SegmentInfo] = []
    for path in layout.segment_files(folder):
        start = layout.segment_start(path.name)
        try:
            st = path.stat()
        except FileNotFoundError:
            continue  # deleted for retention meanwhile
        if start is None:
            continue
        found.append(SegmentInfo(name=path.name, path=path, start=start, size=st.st_size,
                                 end=datetime.fromtimestamp(st.st_mtime, tz=timezone.utc),
                                 recording=path.name in growing))
    return found


def latest_segment(artifacts: Path, stream: str) -> Path | None:
    """The newest finished segment that holds frames; while the stream's first segment is still being written,
    that one once it holds a fragment (a fragmented MP4 plays as far as it is written); else None."""
    try:
        found = segments(artifacts, stream)
    except ValueError:
        return None
    for recording in (False, True):
        for seg in reversed(found):
            if seg.recording == recording and (layout.fragments(seg.path) or 0) > 0:
                return seg.path
    return None


def segment_path(artifacts: Path, stream: str, name: str) -> Path | None:
    """The file of segment ``name`` of ``stream`` if both names are valid and it exists (safe for a URL path)."""
    try:
        folder = layout.stream_folder(artifacts, stream)
    except (TypeError, ValueError):
        return None
    if not layout.is_segment_name(name):
        return None
    path = folder / name
    return path if path.is_file() else None


def streams(artifacts: Path) -> list[StreamInfo]:
    """Every stream folder under the artifacts folder, by name."""
    root = layout.streams_root(artifacts)
    try:
        names = sorted(e.name for e in os.scandir(root) if e.is_dir())
    except FileNotFoundError:
        return []
    found: list[StreamInfo] = []
    for name in names:
        try:
            segs = segments(artifacts, name)
        except ValueError:
            continue  # not a stream's folder
        folder = root / name
        live = sorted(layout.read_statuses(folder), key=lambda s: s.updated)
        status = live[-1] if live else None
        latest = latest_segment(artifacts, name)
        found.append(StreamInfo(
            name=name, folder=folder, segments=len(segs), size=sum(s.size for s in segs),
            latest=latest.name if latest is not None else None,
            first_start=segs[0].start if segs else None, last_end=segs[-1].end if segs else None,
            recording=any(s.recording for s in live),
            frames=status.frames if status else 0, dropped=status.dropped if status else 0,
            width=status.width if status else 0, height=status.height if status else 0,
            cloud=status.sink.target if status else "none", uploaded=status.sink.uploaded if status else 0,
            error=status.error if status else None))
    return found
