"""Give back the pages of files OpenVINO maps but no longer reads: an IR's weights and a cache's compiled blobs.

After compiling, OpenVINO's CPU plugin keeps the weights file (or the imported blob) mapped but runs on its own
repacked copy of the weights, so those pages only add to the process's resident memory."""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

MADV_DONTNEED = 4


def release_mapped_file(path: Path) -> int:
    """Let the kernel take back this process's resident pages of a file it maps read-only (pages used again
    are read back from the file). Bytes released; 0 where /proc/self/maps or libc's madvise is missing.

    After compiling, OpenVINO's CPU plugin keeps the IR's weights file mapped but runs on its own repacked copy:
    inference reads back ~3 of the heads' 64 MB."""
    try:
        with open("/proc/self/maps") as fh:
            spans = [line.split()[0].split("-") for line in fh
                     if line.rstrip().endswith(str(path)) and "w" not in line.split()[1]]
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    except OSError:
        return 0
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    for lo, hi in ((int(a, 16), int(b, 16)) for a, b in spans):
        if libc.madvise(lo, hi - lo, MADV_DONTNEED) == 0:
            released += hi - lo
    return released


def blobs(cache: str) -> list[Path]:
    """The compiled blobs in a cache folder ('': none). Importing one, the CPU plugin copies the weights out of
    its mapping: its pages can be released like the IR's."""
    return sorted(Path(cache).resolve().glob("*.blob")) if cache else []


def release_weights(weights: Path | None, cache: str) -> int:
    """After a compile: give back the pages of the IR's weights file (None: compiled from a graph in memory) and of
    the cache folder's blobs. Bytes released."""
    files = ([weights.resolve()] if weights is not None else []) + blobs(cache)
    return sum(release_mapped_file(f) for f in files)
