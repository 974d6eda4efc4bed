"""The per-run folder both processes share: the frame slot, the project stream, the Lambda's counters.

It lives on a RAM-backed file system where there is one (``/dev/shm``), is made with ``mkdtemp`` (mode 0700, an
unpredictable name, never an existing folder) and is removed at stop. A run that was killed (``kill -9``) leaves
its folder behind; the next start removes the folders of processes that no longer exist.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from simulator.errors import ConfigError
from simulator.ipc.pids import pid_alive

log = logging.getLogger(__name__)

PREFIX = "deeplens-sim-"
FRAMES_FILE = "frames"
PROJECT_FILE = "project.mjpeg"
STATS_FILE = "lambda-stats"
_NAME = re.compile(rf"^{re.escape(PREFIX)}(\d+)-")


RUNTIME_DIR_ENV = "DEEPLENS_SIM_RUNTIME_DIR"


def runtime_root() -> Path:
    """Where run folders live: ``$DEEPLENS_SIM_RUNTIME_DIR`` if set (made if missing; e.g. a container whose
    /dev/shm is too small for 4 MP frames), else a RAM-backed folder where one exists (/dev/shm), else the temp
    folder."""
    chosen = os.environ.get(RUNTIME_DIR_ENV, "").strip()
    if chosen:
        root = Path(chosen).expanduser().absolute()  # the Lambda, in a folder of its own, gets it too
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{RUNTIME_DIR_ENV}={chosen}: cannot make that folder ({exc.strerror or exc})",
                              hint=f"point {RUNTIME_DIR_ENV} at a folder you may write, or unset it") from None
        if not os.access(root, os.W_OK | os.X_OK):
            raise ConfigError(f"{RUNTIME_DIR_ENV}={chosen}: that folder is not writable",
                              hint=f"point {RUNTIME_DIR_ENV} at a folder you may write, or unset it")
        return root
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def clean_stale(root: Path | None = None) -> list[Path]:
    """Remove run folders (ours, not symlinks) whose simulator process is gone; returns what was removed."""
    root = root or runtime_root()
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.match(entry.name)
        if not match or pid_alive(int(match.group(1))):
            continue
        try:
            st = entry.lstat()
        except OSError:
            continue
        if not entry.is_dir() or entry.is_symlink() or st.st_uid != os.getuid():
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
        log.info("removed the run folder of a simulator that is no longer running: %s", entry)
    return removed


class RunFolder:
    """``RunFolder.create()`` makes a new private folder; ``remove()`` deletes it with everything inside."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, root: Path | None = None) -> RunFolder:
        root = root or runtime_root()
        return cls(Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root)))

    @property
    def frames(self) -> Path:
        return self.path / FRAMES_FILE

    @property
    def project_stream(self) -> Path:
        return self.path / PROJECT_FILE

    @property
    def stats(self) -> Path:
        return self.path / STATS_FILE

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<RunFolder {self.path}>"
