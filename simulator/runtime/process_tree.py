"""All processes of one Lambda run, found and ended together so that none outlives a restart or a stop.

A Lambda process starts its own session and process group. What it starts stays in that group unless it moves
out (``setsid``, ``setpgid``, a daemon's double fork), so three nets are cast: the process group, the descendants
of the Lambda (tracked on every poll, so a grandchild that left the group is still known after its parent exited),
and — when ending the run — any process whose environment carries the run's marker variable (set by the
supervisor, inherited by everything the Lambda starts unless it replaces the environment).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import psutil

MARKER_VARIABLE = "DEEPLENS_SIM_RUN"
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except _GONE:
        return False
    except psutil.AccessDenied:
        return True


def _proc_children(pid: int) -> list[int]:
    """Direct children of ``pid`` from ``/proc/<pid>/task/*/children`` (no scan of every process)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            continue
    return found


def _children_lister() -> Callable[[int], list[int]]:
    """How to list a process's children here: ``/proc`` children files where the kernel has them, else one scan."""
    if os.path.exists(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children"):
        return _proc_children
    by_parent: dict[int, list[int]] = defaultdict(list)
    for proc in psutil.process_iter(["ppid"]):
        if proc.info.get("ppid") is not None:
            by_parent[proc.info["ppid"]].append(proc.pid)
    return lambda pid: by_parent.get(pid, [])


class ProcessTree:
    """The leader (the Lambda process, a child of this one) and every process it started, directly or not."""

    def __init__(self, leader_pid: int, marker: str) -> None:
        self.leader_pid, self.marker = leader_pid, marker
        self._known: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()
        try:
            self._leader: psutil.Process | None = psutil.Process(leader_pid)
        except psutil.Error:
            self._leader = None

    def refresh(self) -> list[psutil.Process]:
        """Track the descendants alive now; every live process of the run other than the leader."""
        with self._lock:
            self._known = {pid: p for pid, p in self._known.items() if _alive(p)}
            roots = set(self._known)
            if self._leader is not None and self._leader.is_running():  # not yet reaped (pid not reused)
                roots.add(self.leader_pid)
            children = _children_lister()
            todo = list(roots)
            while todo:
                for pid in children(todo.pop()):
                    if pid in self._known or pid == self.leader_pid:
                        continue
                    with contextlib.suppress(psutil.Error):
                        self._known[pid] = psutil.Process(pid)
                        todo.append(pid)
            self._known = {pid: p for pid, p in self._known.items() if _alive(p)}
            return list(self._known.values())

    def members(self) -> list[psutil.Process]:
        """Every live process of the run, the leader first (if alive)."""
        rest = self.refresh()
        leader = [self._leader] if self._leader is not None and _alive(self._leader) else []
        return leader + rest

    def rss_bytes(self) -> int:
        """Resident memory of the whole run (summed per process: pages shared between processes count twice)."""
        total = 0
        for proc in self.members():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _marked(self) -> list[psutil.Process]:
        """Processes of this run that escaped the tree and the group, found by the marker in their environment."""
        found = []
        me = os.getpid()
        for proc in psutil.process_iter():
            if proc.pid in (me, self.leader_pid) or proc.pid in self._known:
                continue
            try:
                if proc.environ().get(MARKER_VARIABLE) == self.marker:
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    def _signal_all(self, sig: int, others: list[psutil.Process]) -> None:
        if self._leader is not None and self._leader.is_running():  # until reaped, its pid names its group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.leader_pid, sig)
        for proc in others:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)

    def end(self, grace: float = 0.0) -> int:
        """End every process of the run except reaping the leader (its ``Popen`` does that): SIGTERM and up to
        ``grace`` seconds to exit when ``grace`` > 0, then SIGKILL. Returns how many processes besides the leader
        were ended."""
        others = self.refresh()
        with self._lock:
            others += [p for p in self._marked() if p.pid not in self._known]
        if grace > 0:
            self._signal_all(signal.SIGTERM, others)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(_alive(p) for p in self.members()):
                time.sleep(0.05)
        everyone = {p.pid: p for p in others}
        for _ in range(3):  # a parent still alive may start more while we kill: sweep until none is left
            self._signal_all(signal.SIGKILL, others)
            time.sleep(0.02)
            others = [p for p in self.refresh() if _alive(p)]
            everyone.update((p.pid, p) for p in others)
            if not others:
                break
        deadline = time.monotonic() + 2.0  # SIGKILL is not instant: let the kernel finish them
        while time.monotonic() < deadline and any(_alive(p) for p in everyone.values()):
            time.sleep(0.02)
        return len(everyone)
