"""The Lambda supervisor against real misbehaving Lambda processes: hung, leaking, spawning orphans, flooding
its output, crashing in a loop. Each test spawns real processes through ``simulator.runtime.host``."""

from __future__ import annotations

import logging
import os
import re
import threading
import tracemalloc
from pathlib import Path

import psutil
import pytest

from simulator.events import LambdaFailing, LambdaHung, LambdaKilled, LambdaRestarting, LambdaStarted
from simulator.ipc.context import DeviceContext
from simulator.ipc.run_folder import PROJECT_FILE
from simulator.ipc.slot import SharedSlot
from simulator.ipc.stats import StatsReader
from simulator.runtime.process_tree import MARKER_VARIABLE
from simulator.runtime.supervisor import LambdaSupervisor
from tests.support.waits import wait_for_value

MISBEHAVING = Path(__file__).parent / "lambdas" / "misbehaving"
WAIT = 60.0


def wait_until(predicate, timeout: float = WAIT, what: str = "condition"):
    return wait_for_value(predicate, timeout, what)


class Run:
    """A supervisor of one misbehaving Lambda, with everything it reported."""

    def __init__(self, folder: Path, name: str, extra_env: dict[str, str], **options) -> None:
        self.project = SharedSlot.create(folder / PROJECT_FILE, 1 << 20)
        self.stats = StatsReader.create(folder / "lambda-stats")
        lambda_file = MISBEHAVING / f"{name}.py"
        ctx = DeviceContext(thing_name="deeplens_test", run_dir=folder, mqtt_port=1883, artifacts=folder,
                            shadows=folder / "shadows", lambda_file=lambda_file)
        self.events: list = []
        self.lines: list[tuple[str, str]] = []
        self.pid_at_event: list[tuple[str, int | None, bool]] = []
        self._lock = threading.Lock()
        options.setdefault("backoff_start", 0.1)
        options.setdefault("poll_interval", 0.1)
        if options.get("progress") == "project":  # what the core passes: counters + project-stream frames
            options["progress"] = lambda: self.project.seq
        self.sup = LambdaSupervisor(lambda_file, {**ctx.env(), **extra_env}, on_event=self._event,
                                    on_line=self._line, **options)

    def _event(self, event) -> None:
        status = self.sup.status
        alive = status.pid is not None and psutil.pid_exists(status.pid)
        with self._lock:
            self.events.append(event)
            self.pid_at_event.append((event.event, status.pid, alive))

    def _line(self, kind: str, line: str) -> None:
        with self._lock:
            self.lines.append((kind, line))

    def of(self, kind: type) -> list:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def text(self, kind: str) -> list[str]:
        with self._lock:
            return [line for k, line in self.lines if k == kind]

    def close(self) -> None:
        self.sup.stop()
        self.project.close()
        self.stats.close()


@pytest.fixture
def supervise(tmp_path):
    runs: list[Run] = []

    def make(name: str, env: dict[str, str] | None = None, **options) -> Run:
        folder = tmp_path / f"run{len(runs)}"
        folder.mkdir()
        run = Run(folder, name, env or {}, **options)
        runs.append(run)
        run.sup.start()
        return run

    yield make
    for run in runs:
        run.close()
    marker = f"{os.getpid()}."
    left = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER_VARIABLE, "").startswith(marker) and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(proc)
        except psutil.Error:
            continue
    assert not left, f"processes of stopped Lambdas still running: {left}"


def _gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- 1. hung -----------------------------------------------------------------------------------------------------

def test_a_lambda_that_stops_making_progress_is_reported_hung_and_restarted(supervise):
    run = supervise("hangs", {"HANG_AFTER": "3"}, watchdog_seconds=2.0, startup_grace=60.0, progress="project")
    hung = wait_until(lambda: run.of(LambdaHung), what="a hung event")[0]
    first_pid = run.of(LambdaStarted)[0].pid
    assert hung.pid == first_pid and hung.watchdog_seconds == 2.0 and hung.idle_seconds >= 2.0
    restart = wait_until(lambda: run.of(LambdaRestarting), what="the restart")[0]
    assert restart.error == "hung: no progress for 2 s" and restart.exit_code == -9
    wait_until(lambda: len(run.of(LambdaStarted)) == 2, what="the second start")
    status = run.sup.status
    assert status.hung == 1 and status.restarts == 1 and status.watchdog_seconds == 2.0
    assert "stopped working after 3 frames" in run.text("stdout")
    assert status.progress >= 3  # the project-stream frames the watchdog went by (the window's recovery too)


def test_a_lambda_that_never_progresses_is_hung_after_the_startup_allowance(supervise):
    run = supervise("hangs", {"HANG_AFTER": "0"}, watchdog_seconds=1.0, startup_grace=1.5,
                    progress=lambda: 0)
    hung = wait_until(lambda: run.of(LambdaHung), what="a hung event")[0]
    assert hung.idle_seconds >= 2.5  # the allowance, then the watchdog's own time
    restart = wait_until(lambda: run.of(LambdaRestarting), what="the restart")[0]
    assert restart.error == "hung: no progress within 2.5 s of starting"
    assert run.sup.status.hung == 1


def test_an_idle_lambda_that_opted_out_is_left_alone(supervise):
    watched = supervise("hangs", {"HANG_AFTER": "2", "IDLE": "1"}, watchdog_seconds=1.5, startup_grace=60.0,
                        progress="project")
    idle = supervise("hangs", {"HANG_AFTER": "2", "IDLE": "1"}, watchdog_seconds=0, startup_grace=0.1,
                     progress=lambda: 0)
    assert idle.sup.watchdog is None
    wait_until(lambda: watched.of(LambdaHung), what="the watched Lambda to be found hung")
    wait_until(lambda: "stopped working after 2 frames" in idle.text("stdout"), what="the idle Lambda to idle")
    status = idle.sup.status
    assert status.state == "running" and status.hung == 0 and status.restarts == 0
    assert status.watchdog_seconds is None and status.progress_age is None
    assert status.progress == 0  # counted without a watchdog too
    assert not idle.of(LambdaHung) and len(idle.of(LambdaStarted)) == 1
    assert watched.sup.status.hung >= 1


# -- 2. memory ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("in_child", [False, True], ids=["leaks-itself", "leaks-in-a-child"])
def test_a_leaking_lambda_is_killed_at_its_memory_limit(supervise, in_child):
    run = supervise("leaks", {"LEAK_MB": "20", "LEAK_IN_CHILD": "1" if in_child else "0"}, memory_limit_mb=250)
    if in_child:
        wait_until(lambda: any("leaking in child" in line for line in run.text("stdout")), what="the child")
    killed = wait_until(lambda: run.of(LambdaKilled), what="a killed event")[0]
    assert killed.reason == "memory limit 250 MB exceeded"
    assert killed.memory_mb is None or killed.memory_mb > 250
    assert killed.describe().startswith("Lambda leaks killed: memory limit 250 MB exceeded")
    restart = wait_until(lambda: run.of(LambdaRestarting), what="the restart")[0]
    assert restart.error == "killed: memory limit 250 MB exceeded"
    status = run.sup.status
    assert status.killed == 1 and status.memory_limit_mb == 250
    if in_child:
        child_pid = int(next(line for line in run.text("stdout") if "leaking in child" in line).split()[-1])
        wait_until(lambda: not psutil.pid_exists(child_pid) or _gone(psutil.Process(child_pid)),
                   what="the leaking child to be gone")
        assert status.orphans_ended >= 1


def test_status_shows_the_memory_of_the_running_lambda(supervise):
    run = supervise("hangs", {"HANG_AFTER": "1", "IDLE": "1"}, memory_limit_mb=4000)
    status = wait_until(lambda: run.sup.status.memory_mb and run.sup.status, what="a memory reading")
    own = psutil.Process(status.pid).memory_info().rss / 2**20
    assert status.memory_mb >= own * 0.5 and status.memory_limit_by in ("cgroup", "rss")
    assert status.killed == 0


# -- 3. orphans --------------------------------------------------------------------------------------------------

def _processes_of(folder: Path, run_number: int) -> list[psutil.Process]:
    pids = [int(p) for p in (folder / f"{run_number}.pids").read_text().split()]
    procs = [psutil.Process(pid) for pid in pids]
    lambda_proc, sleeps, setsid_parent, daemon = procs[0], procs[1:3], procs[3], procs[4]
    grandchildren = setsid_parent.children()
    assert grandchildren and grandchildren[0].pid != setsid_parent.pid
    assert os.getsid(grandchildren[0].pid) != os.getsid(lambda_proc.pid)  # it left the Lambda's session
    assert os.getsid(daemon.pid) != os.getsid(lambda_proc.pid) and daemon.ppid() != lambda_proc.pid
    return [*sleeps, setsid_parent, *grandchildren, daemon]


def test_nothing_a_lambda_started_survives_its_restart_or_its_stop(supervise, tmp_path):
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    run = supervise("spawns", {"PIDS_DIR": str(pids_dir), "CRASH_AFTER": "1.5"})
    wait_until(lambda: (pids_dir / "0.pids").exists(), what="the first run's processes")
    first = _processes_of(pids_dir, 0)
    assert all(not _gone(p) for p in first)
    wait_until(lambda: (pids_dir / "1.pids").exists(), what="the restarted run's processes")
    assert all(_gone(p) for p in first), [p for p in first if not _gone(p)]
    assert run.of(LambdaRestarting)[0].exit_code == 1
    assert run.sup.status.orphans_ended >= len(first)
    second = _processes_of(pids_dir, 1)
    assert all(not _gone(p) for p in second)
    run.sup.stop()
    assert all(_gone(p) for p in second), [p for p in second if not _gone(p)]
    assert run.sup.status.state == "stopped" and run.sup.status.pid is None


# -- 4. output ---------------------------------------------------------------------------------------------------

def test_a_huge_line_is_cut_and_a_flood_of_lines_is_thinned(supervise):
    long_line, lines = 50_000_000, 100_000
    tracemalloc.start()
    try:
        run = supervise("floods", {"LONG_LINE": str(long_line), "LINES": str(lines), "PAUSE": "1.5"},
                        lines_per_second=200)
        wait_until(lambda: "flood over" in run.text("stdout"), what="the end of the flood")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"reading the output took {peak / 2**20:.0f} MB"
    out = run.text("stdout")
    assert out[0] == "A" * 8192 + f"… [{long_line - 8192:,} bytes cut]"
    shown = [line for line in out if re.fullmatch(r"line \d+", line)]
    notes = [int(m.group(1).replace(",", "")) for line in out
             if (m := re.fullmatch(r"\[([\d,]+) lines dropped: more than 200 lines/s on stdout\]", line))]
    status = run.sup.status
    assert notes and sum(notes) == status.lines_dropped
    assert len(shown) + status.lines_dropped == lines  # every line either shown or counted
    assert len(shown) < lines // 10
    assert status.lines_cut == 1


# -- 5 and 6. crash loops, bookkeeping ----------------------------------------------------------------------------

def test_a_crash_loop_at_import_is_told_once_then_summarised(supervise, caplog):
    caplog.set_level(logging.WARNING, logger="lambda.imports_missing")
    run = supervise("imports_missing", crash_loop_after=3)
    wait_until(lambda: len(run.of(LambdaRestarting)) >= 4, what="four crashes")
    run.sup.stop()
    error = "ModuleNotFoundError: No module named 'no_such_module_xyz'"
    stderr = run.text("stderr")
    assert stderr.count("Traceback (most recent call last):") == 1 and stderr.count(error) == 1
    assert all(e.error == error and e.exit_code == 1 for e in run.of(LambdaRestarting))
    messages = [r.getMessage() for r in caplog.records]
    assert sum("crashed again" in m for m in messages) >= 3
    assert f"Lambda imports_missing crashed again: {error} (restart 2, next in 0.2 s)" in messages
    failing = run.of(LambdaFailing)
    assert len(failing) == 1 and failing[0].failures == 3 and failing[0].at_import and failing[0].error == error
    assert "pip install" in failing[0].hint and "'no_such_module_xyz'" in failing[0].hint
    status = run.sup.status
    assert status.note.startswith(f"failing at import: {error} — install") and status.repeats >= 3
    # 6: the pid is reported only while the process lives
    assert all(pid is None for kind, pid, _ in run.pid_at_event if kind == "restart")
    assert all(pid is not None and alive for kind, pid, alive in run.pid_at_event if kind == "started")
    assert status.pid is None and status.restarts >= 4


def test_a_module_the_device_had_is_named(supervise):
    run = supervise("imports_device_module", crash_loop_after=2)
    failing = wait_until(lambda: run.of(LambdaFailing), what="the diagnosis")[0]
    assert failing.error == "ModuleNotFoundError: No module named 'awscamdldt'"
    assert "module the DeepLens device had" in failing.hint and "inference engine" in failing.hint
    assert "pip install" not in failing.hint


def test_a_missing_environment_variable_is_named_with_how_to_set_it(supervise):
    run = supervise("needs_env")
    failing = wait_until(lambda: run.of(LambdaFailing), what="the diagnosis")[0]
    assert failing.error == "KeyError: 'BUCKET_NAME'" and failing.failures == 1
    assert "BUCKET_NAME" in failing.hint and "--env BUCKET_NAME=VALUE" in failing.hint and "env:" in failing.hint
    assert run.sup.status.note == failing.hint
