"""A memory limit for a Lambda: the kernel's (a cgroup v2 of its own) where this user may create one, else the
supervisor polls the resident memory of all the Lambda's processes and kills them all above the limit.

Not ``RLIMIT_AS``: it limits *virtual* address space, and OpenVINO (its thread pools, its plugins, the model
mapped from disk) reserves several times the memory it touches — a Lambda using 400 MB can map 4 GB — so a limit
loose enough to let it load would not catch a leak, and one tight enough would fail model loading with a
``MemoryError`` somewhere unrelated. Resident memory is what a leak grows, and what ran out on the device.

A cgroup is usable when ``/sys/fs/cgroup`` is a cgroup v2 hierarchy, the memory controller is enabled for the
children of this process's own cgroup, and that cgroup is writable (a delegated subtree). That is rare: the
cgroup holding a process cannot give controllers to children (the "no internal processes" rule), so it is
mostly found inside containers or services set up for it. ``find_cgroup_parent`` says why it is not usable.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
MB = 1024 * 1024


def limit_reason(limit_mb: float) -> str:
    return f"memory limit {limit_mb:g} MB exceeded"


def find_cgroup_parent(root: Path = CGROUP_ROOT, self_cgroup: Path = Path("/proc/self/cgroup")) -> tuple[Path | None,
                                                                                                          str]:
    """(the cgroup under which Lambda cgroups can be made, or None; why not, when None)."""
    if not (root / "cgroup.controllers").is_file():
        return None, f"{root} is not a cgroup v2 hierarchy"
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError as exc:
        return None, f"cannot read {self_cgroup}: {exc}"
    own = next((line[3:] for line in lines if line.startswith("0::")), None)
    if own is None:
        return None, "this process has no cgroup v2 path"
    parent = root / own.lstrip("/")
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
    except OSError as exc:
        return None, f"cannot read {parent}/cgroup.subtree_control: {exc}"
    if "memory" not in enabled:
        return None, f"the memory controller is not delegated to the children of {parent}"
    if not os.access(parent, os.W_OK):
        return None, f"{parent} is not writable by this user"
    return parent, ""


class CgroupLimit:
    """A cgroup v2 for one Lambda run: ``memory.max`` set, no swap, the whole cgroup killed together on OOM."""

    def __init__(self, parent: Path, name: str, limit_mb: float) -> None:
        self.path = parent / name
        self.path.mkdir(exist_ok=True)
        (self.path / "memory.max").write_text(str(int(limit_mb * MB)))
        for knob, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
            with contextlib.suppress(OSError):
                (self.path / knob).write_text(value)

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` run by a shell that first moves itself into the cgroup, so nothing runs outside it."""
        return ["/bin/sh", "-c", 'echo 0 > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *argv]

    def oom_killed(self) -> bool:
        """The kernel killed a process of this cgroup for its memory limit."""
        try:
            text = (self.path / "memory.events").read_text()
        except OSError:
            return False
        counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", "0")) > 0

    def memory_bytes(self) -> int | None:
        try:
            return int((self.path / "memory.current").read_text())
        except (OSError, ValueError):
            return None

    def kill_all(self) -> None:
        with contextlib.suppress(OSError):
            (self.path / "cgroup.kill").write_text("1")

    def remove(self) -> None:
        """Remove the cgroup (it must be empty: call after every process of the run ended)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()
