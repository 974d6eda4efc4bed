"""Runs a Lambda in its own process and keeps it running: restarts with backoff, reports every restart.

The Lambda's stdout and stderr go line by line into the simulator's log (logger ``lambda.<name>``) and to any
listener (the GUI's log view); each exit is reported through ``on_event`` (the core publishes it on the device's
status topic) while camera, broker and viewers keep running.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simulator.paths import PROJECT_ROOT

log = logging.getLogger(__name__)

BACKOFF_START, BACKOFF_MAX, STABLE_AFTER = 1.0, 30.0, 60.0


@dataclass
class LambdaState:
    name: str
    state: str = "stopped"  # starting | running | restarting | stopped
    pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None
    last_error: str | None = None
    started_at: float | None = None
    recent_errors: deque = field(default_factory=lambda: deque(maxlen=40))


class LambdaSupervisor:
    def __init__(self, lambda_file: Path, env: dict[str, str], cwd: Path | None = None,
                 on_event: Callable[[dict], None] | None = None,
                 on_line: Callable[[str, str], None] | None = None) -> None:
        self.lambda_file = Path(lambda_file)
        self.env, self.cwd = env, cwd or self.lambda_file.parent
        self.on_event, self.on_line = on_event, on_line
        self.status = LambdaState(name=self.lambda_file.stem)
        self._log = logging.getLogger(f"lambda.{self.status.name}")
        self._proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._spawn_lock = threading.Lock()  # stop() and a (re)spawn never interleave
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name=f"supervisor-{self.status.name}", daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen:
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # e.g. LocalDisplay's float canvas: a warning per start
        return subprocess.Popen(
            [sys.executable, "-u", "-m", "simulator.runtime.host"], env=env, cwd=str(self.cwd),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches the simulator, which stops the Lambda itself
        )

    def _pump(self, stream, kind: str) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if kind == "stderr":
                self.status.recent_errors.append(line)
            self._log.info("%s", line)
            if self.on_line is not None:
                self.on_line(kind, line)
        stream.close()

    def _emit(self, event: dict) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # noqa: BLE001 - reporting must never stop supervision
                log.exception("status event handler failed")

    def _supervise(self) -> None:
        backoff = BACKOFF_START
        while not self._stop.is_set():
            self.status.state = "starting"
            self.status.recent_errors.clear()
            with self._spawn_lock:
                if self._stop.is_set():
                    break
                proc = self._proc = self._spawn()
            self.status.pid, self.status.started_at = proc.pid, time.time()
            pumps = [threading.Thread(target=self._pump, args=(s, k), daemon=True)
                     for s, k in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
            for p in pumps:
                p.start()
            self.status.state = "running"
            self._emit({"event": "started", "lambda": self.status.name, "pid": proc.pid,
                        "restarts": self.status.restarts})
            code = proc.wait()
            for p in pumps:
                p.join(timeout=2)
            if self._stop.is_set():
                break
            ran = time.time() - (self.status.started_at or time.time())
            if ran > STABLE_AFTER:
                backoff = BACKOFF_START
            error = next((l for l in reversed(self.status.recent_errors) if l.strip()), None)
            self.status.last_exit, self.status.last_error = code, error
            self.status.restarts += 1
            self.status.state = "restarting"
            self._log.warning("Lambda %s exited with status %s after %.1f s%s; restart #%d in %.0f s",
                              self.status.name, code, ran, f" ({error})" if error else "",
                              self.status.restarts, backoff)
            self._emit({"event": "restart", "lambda": self.status.name, "exit_code": code, "error": error,
                        "ran_seconds": round(ran, 1), "restarts": self.status.restarts, "delay": backoff})
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, BACKOFF_MAX)
        self.status.state, self.status.pid = "stopped", None

    def stop(self, timeout: float = 5.0) -> None:
        with self._spawn_lock:
            self._stop.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout)
            except ProcessLookupError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self.status.state, self.status.pid = "stopped", None
        self._emit({"event": "stopped", "lambda": self.status.name})
