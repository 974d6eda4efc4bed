"""Runs a Lambda in its own process and keeps it running: restarts with backoff, reports every restart, and
survives whatever the Lambda does.

- Output: stdout and stderr go line by line into the simulator's log (logger ``lambda.<name>``) and to any
  listener (the GUI's log view), cut to ``max_line_bytes`` and ``lines_per_second`` per stream (``output``).
- Hung: with a ``progress`` counter, a Lambda that makes no progress for ``watchdog_seconds`` is reported
  (``LambdaHung``) and restarted, as Greengrass's function timeout did (``watchdog``).
- Memory: above ``memory_limit_mb`` all its processes are killed and it is reported (``LambdaKilled``) — by
  the kernel in a cgroup v2 of its own where this user may make one, else by polling (``limits``).
- Orphans: a stop or a restart ends every process the Lambda started, also those that left its process group
  (``process_tree``).
- Crash loops: a traceback is shown once; the same error again is one line (``crashed again: …``); repeated
  failures at import and a missing environment variable are explained (``LambdaFailing``, ``crashloop``).

Each exit is reported through ``on_event`` (the core publishes it on the device's status topic) while camera,
broker and viewers keep running; ``status`` is a snapshot of all of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.events import LambdaFailing, LambdaHung, LambdaKilled, LambdaRestarting, LambdaStarted, LambdaStopped
from simulator.paths import PROJECT_ROOT
from simulator.runtime.crashloop import CrashHistory, TracebackFolder, parse_traceback
from simulator.runtime.limits import MB, CgroupLimit, find_cgroup_parent, limit_reason
from simulator.runtime.output import LINES_PER_SECOND, MAX_LINE_BYTES, LineLimiter, pump
from simulator.runtime.process_tree import MARKER_VARIABLE, ProcessTree
from simulator.runtime.watchdog import DEFAULT_STARTUP_GRACE, DEFAULT_TIMEOUT, ProgressWatchdog
from simulator.status import LambdaStatus

log = logging.getLogger(__name__)

BACKOFF_START, BACKOFF_MAX, STABLE_AFTER = 1.0, 30.0, 60.0
POLL_INTERVAL = 0.5
CRASH_LOOP_AFTER = 3


@dataclass
class LambdaState:
    """The supervisor's own bookkeeping (read it as ``LambdaSupervisor.status``)."""

    name: str
    state: str = "stopped"  # starting | running | restarting | stopped
    pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None
    last_error: str | None = None
    started_at: float | None = None
    memory_mb: float | None = None
    hung: int = 0
    killed: int = 0
    orphans_ended: int = 0
    recent_errors: deque = field(default_factory=lambda: deque(maxlen=40))


class LambdaSupervisor:
    """``watchdog_seconds``: None takes the default (30 s) when ``progress`` is given, 0 turns the watchdog off;
    there is no watchdog without ``progress``. ``memory_limit_mb``: None for no limit. ``base_env``: the
    environment the Lambda inherits (None: this process's; the core passes one without the user's AWS profile)."""

    def __init__(self, lambda_file: Path, env: dict[str, str], cwd: Path | None = None,
                 on_event: Callable[[Any], None] | None = None,
                 on_line: Callable[[str, str], None] | None = None, *,
                 progress: Callable[[], int] | None = None,
                 watchdog_seconds: float | None = None,
                 startup_grace: float = DEFAULT_STARTUP_GRACE,
                 memory_limit_mb: float | None = None,
                 use_cgroup: bool = True,
                 max_line_bytes: int = MAX_LINE_BYTES,
                 lines_per_second: float = LINES_PER_SECOND,
                 crash_loop_after: int = CRASH_LOOP_AFTER,
                 backoff_start: float = BACKOFF_START,
                 backoff_max: float = BACKOFF_MAX,
                 poll_interval: float = POLL_INTERVAL,
                 base_env: Mapping[str, str] | None = None) -> None:
        self.lambda_file = Path(lambda_file)
        self.base_env = base_env  # the environment ``env`` is added to (None: this process's own)
        self.env, self.cwd = env, cwd or self.lambda_file.parent
        self.on_event, self.on_line = on_event, on_line
        self._state = LambdaState(name=self.lambda_file.stem)
        self._log = logging.getLogger(f"lambda.{self._state.name}")
        timeout = DEFAULT_TIMEOUT if watchdog_seconds is None else float(watchdog_seconds)
        self._progress = progress
        self.watchdog = ProgressWatchdog(progress, timeout, startup_grace) if progress and timeout > 0 else None
        if memory_limit_mb is not None and memory_limit_mb <= 0:
            raise ValueError("memory_limit_mb must be above 0 (None: no limit)")
        self.memory_limit_mb = memory_limit_mb
        self._cgroup_parent: Path | None = None
        if memory_limit_mb is not None and use_cgroup:
            self._cgroup_parent, why = find_cgroup_parent()
            if self._cgroup_parent is None:
                log.debug("memory limit of %s by polling: %s", self._state.name, why)
        self._limiters = {kind: LineLimiter(kind, max_line_bytes, lines_per_second) for kind in ("stdout", "stderr")}
        self._folder = TracebackFolder()
        self._history = CrashHistory(crash_loop_after)
        self.backoff_start, self.backoff_max, self.poll_interval = backoff_start, backoff_max, poll_interval
        self._proc: subprocess.Popen | None = None
        self._tree: ProcessTree | None = None
        self._runs = 0
        self._stop = threading.Event()
        self._spawn_lock = threading.Lock()  # stop() and a (re)spawn never interleave
        self._thread: threading.Thread | None = None

    # -- what callers read -----------------------------------------------------------------------------------
    @property
    def status(self) -> LambdaStatus:
        """A snapshot of the Lambda's supervision (fields documented on ``simulator.status.LambdaStatus``)."""
        s, dog = self._state, self.watchdog
        running = s.state in ("starting", "running") and s.pid is not None
        return LambdaStatus(
            name=s.name, state=s.state, pid=s.pid, restarts=s.restarts, last_exit=s.last_exit,
            last_error=s.last_error, memory_mb=s.memory_mb if running else None,
            memory_limit_mb=self.memory_limit_mb,
            memory_limit_by=None if self.memory_limit_mb is None else "cgroup" if self._cgroup_parent else "rss",
            watchdog_seconds=dog.timeout if dog else None,
            progress=self._progress() if self._progress else None,
            progress_age=round(dog.age(), 1) if dog and running else None,
            hung=s.hung, killed=s.killed, orphans_ended=s.orphans_ended,
            lines_dropped=sum(lim.lines_dropped for lim in self._limiters.values()),
            lines_cut=sum(lim.lines_cut for lim in self._limiters.values()),
            repeats=self._history.repeats, note=self._history.note)

    # -- running ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name=f"supervisor-{self._state.name}", daemon=True)
        self._thread.start()

    def _spawn(self, marker: str, cgroup: CgroupLimit | None) -> subprocess.Popen:
        env = dict(os.environ if self.base_env is None else self.base_env)
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # e.g. LocalDisplay's float canvas: a warning per start
        env[MARKER_VARIABLE] = marker  # finds what the Lambda started, even outside its process group
        # -P: the Lambda's folder (the working directory) is not put first on sys.path, so copies of libraries
        # bundled beside the Lambda cannot shadow what the host itself imports (the host adds it where it belongs)
        argv = [sys.executable, "-u", *(["-P"] if sys.version_info >= (3, 11) else []), "-m", "simulator.runtime.host"]
        return subprocess.Popen(
            cgroup.wrap(argv) if cgroup else argv, env=env, cwd=str(self.cwd), bufsize=0,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches the simulator, which stops the Lambda itself
        )

    def _new_cgroup(self) -> CgroupLimit | None:
        if self._cgroup_parent is None or self.memory_limit_mb is None:
            return None
        try:
            return CgroupLimit(self._cgroup_parent, f"deeplens-sim-{os.getpid()}-{self._state.name}-{self._runs}",
                               self.memory_limit_mb)
        except OSError as exc:
            log.warning("cannot make a cgroup for Lambda %s (%s): its memory is polled instead", self._state.name, exc)
            self._cgroup_parent = None
            return None

    def _deliver(self, kind: str, line: str) -> None:
        self._log.info("%s", line)
        if self.on_line is not None:
            try:
                self.on_line(kind, line)
            except Exception:  # noqa: BLE001 - a listener must never stop the output
                log.exception("Lambda output listener failed")

    def _deliver_stderr(self, lines: list[str]) -> None:
        for line in lines:
            self._state.recent_errors.append(line)
            self._deliver("stderr", line)

    def _pumps(self, proc: subprocess.Popen) -> list[threading.Thread]:
        out = lambda line: self._deliver("stdout", line)  # noqa: E731
        err = lambda line: self._deliver_stderr(self._folder.feed(line))  # noqa: E731
        threads = [threading.Thread(target=pump, args=(proc.stdout, self._limiters["stdout"], out), daemon=True,
                                    name=f"lambda-{self._state.name}-stdout"),
                   threading.Thread(target=pump, args=(proc.stderr, self._limiters["stderr"], err), daemon=True,
                                    name=f"lambda-{self._state.name}-stderr")]
        for t in threads:
            t.start()
        return threads

    def _emit(self, event: Any) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # noqa: BLE001 - reporting must never stop supervision
                log.exception("status event handler failed")

    @staticmethod
    def _exited(proc: subprocess.Popen) -> bool:
        """The process ended (without reaping it: until then its pid still names its process group)."""
        if proc.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def _check(self, proc: subprocess.Popen, tree: ProcessTree, cgroup: CgroupLimit | None) -> str | None:
        """One poll of a running Lambda: its notes due, its memory, its progress. Why it was killed, if it was."""
        for kind, limiter in self._limiters.items():
            note = limiter.note()
            if note:
                self._deliver(kind, note)
        self._deliver_stderr(self._folder.tick())
        charged = cgroup.memory_bytes() if cgroup else None  # the kernel enforces the limit on this itself
        used = tree.rss_bytes() if charged is None else charged
        self._state.memory_mb = round(used / MB, 1)
        limit = self.memory_limit_mb
        if limit is not None and charged is None and used > limit * MB:
            reason = limit_reason(limit)
            self._state.killed += 1
            self._log.warning("Lambda %s killed: %s (%.0f MB)", self._state.name, reason, used / MB)
            self._emit(LambdaKilled(lambda_=self._state.name, reason=reason, memory_mb=round(used / MB, 1),
                                    pid=proc.pid))
            self._end(tree, cgroup)
            return f"killed: {reason}"
        if self.watchdog is not None and self.watchdog.hung():
            idle = self.watchdog.age()
            self._state.hung += 1
            self._log.warning("Lambda %s hung: no progress for %.0f s; killing it", self._state.name, idle)
            self._emit(LambdaHung(lambda_=self._state.name, idle_seconds=round(idle, 1),
                                  watchdog_seconds=self.watchdog.timeout, pid=proc.pid))
            self._end(tree, cgroup)
            if not self.watchdog.progressed:
                return f"hung: no progress within {self.watchdog.startup_grace + self.watchdog.timeout:g} s of starting"
            return f"hung: no progress for {self.watchdog.timeout:g} s"
        return None

    def _end(self, tree: ProcessTree, cgroup: CgroupLimit | None, grace: float = 0.0) -> None:
        if cgroup is not None and grace <= 0:
            cgroup.kill_all()
        self._state.orphans_ended += tree.end(grace)

    def _run_once(self) -> tuple[int | None, str | None, float] | None:
        """Start the Lambda and watch it until it exits: (exit status, why the supervisor ended it, seconds it
        ran), or None when stopped before it started."""
        self._state.state = "starting"
        self._state.recent_errors.clear()
        self._folder.new_run()
        self._runs += 1
        cgroup = self._new_cgroup()
        with self._spawn_lock:
            if self._stop.is_set():
                return None
            proc = self._proc = self._spawn(f"{os.getpid()}.{id(self):x}.{self._runs}", cgroup)
            tree = self._tree = ProcessTree(proc.pid, f"{os.getpid()}.{id(self):x}.{self._runs}")
        started = time.monotonic()
        self._state.pid, self._state.started_at, self._state.memory_mb = proc.pid, time.time(), None
        pumps = self._pumps(proc)
        self._state.state = "running"
        self._emit(LambdaStarted(lambda_=self._state.name, pid=proc.pid, restarts=self._state.restarts))
        if self.watchdog is not None:
            self.watchdog.start()
        reason = None
        while not self._exited(proc):
            if self._stop.wait(self.poll_interval):
                time.sleep(0.02)  # stop() is ending it
            elif reason is None:
                try:
                    reason = self._check(proc, tree, cgroup)
                except Exception:  # noqa: BLE001 - a failed check must not leave the Lambda unwatched
                    log.exception("checking Lambda %s failed", self._state.name)
        self._state.pid = None
        if not self._stop.is_set():
            self._end(tree, cgroup)  # whatever it left behind goes with it
        code = proc.wait()
        for p in pumps:
            p.join(timeout=2)
        self._deliver_stderr(self._folder.finish(exited=True))
        if cgroup is not None:
            if reason is None and cgroup.oom_killed():
                reason = f"killed: {limit_reason(self.memory_limit_mb or 0)}"
                self._state.killed += 1
                self._emit(LambdaKilled(lambda_=self._state.name, reason=limit_reason(self.memory_limit_mb or 0)))
            cgroup.remove()
        return code, reason, time.monotonic() - started

    def _supervise(self) -> None:
        backoff = self.backoff_start
        while not self._stop.is_set():
            try:
                ran = self._run_once()
            except Exception as exc:  # noqa: BLE001 - e.g. no process could be started: report it, try again
                log.exception("supervising Lambda %s failed", self._state.name)
                self._state.pid = None
                ran = (None, f"the supervisor failed: {type(exc).__name__}: {exc}", 0.0)
            if ran is None or self._stop.is_set():
                break
            code, reason, seconds = ran
            if seconds > STABLE_AFTER:
                backoff = self.backoff_start
            self._report_exit(code, reason, seconds, backoff)
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.backoff_max)
        self._state.state, self._state.pid = "stopped", None

    def _report_exit(self, code: int | None, reason: str | None, seconds: float, delay: float) -> None:
        s = self._state
        block = self._folder.last_block
        shown = tuple(s.recent_errors) if not block or self._folder.lines_after else block  # a repeat: not shown
        line = next((entry for entry in reversed(shown) if entry.strip()), None)
        crash = parse_traceback(block) if block and self._folder.lines_after <= 2 and reason is None else None
        error = reason or line
        verdict = self._history.record(reason or (crash.error if crash else f"status {code}: {line}"), crash)
        s.last_exit, s.last_error = code, error
        s.restarts += 1
        s.state = "restarting"
        if verdict.repeats:
            what = "ended" if reason else "crashed"
            self._log.warning("Lambda %s %s again: %s (restart %d, next in %g s)", s.name, what,
                              reason or (crash.error if crash else error), s.restarts, delay)
        else:
            self._log.warning("Lambda %s exited with status %s after %.1f s%s; restart #%d in %g s", s.name, code,
                              seconds, f" ({error})" if error else "", s.restarts, delay)
            if crash is not None and crash.hint:
                self._log.warning("Lambda %s: %s", s.name, crash.hint)
        self._emit(LambdaRestarting(lambda_=s.name, exit_code=code, error=error, ran_seconds=round(seconds, 1),
                                    restarts=s.restarts, delay=delay, repeat=verdict.repeats))
        if verdict.failing and crash is not None:
            if verdict.repeats or verdict.note != crash.hint:  # a first crash's hint was said just above
                self._log.warning("Lambda %s: %s", s.name, verdict.note)
            self._emit(LambdaFailing(lambda_=s.name, error=crash.error, failures=verdict.repeats + 1,
                                     at_import=crash.at_import, hint=crash.hint))

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the Lambda and every process it started (SIGTERM, then SIGKILL after ``timeout`` s)."""
        with self._spawn_lock:
            self._stop.set()
            proc, tree = self._proc, self._tree
        if proc is not None and tree is not None and not self._exited(proc):
            self._state.orphans_ended += tree.end(grace=timeout)
        elif tree is not None:
            self._state.orphans_ended += tree.end()
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self._state.state, self._state.pid, self._state.memory_mb = "stopped", None, None
        self._emit(LambdaStopped(lambda_=self._state.name))
