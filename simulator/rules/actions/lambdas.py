"""The ``lambda`` action: a local Python handler standing in for a cloud Lambda, in its own warm process.

Each function gets one worker process (``lambda_worker.py``), started on first use and kept warm, with the
engine's AWS environment (so the handler's boto3 calls reach the local cloud) and the Lambda variables
(``AWS_LAMBDA_FUNCTION_NAME``...). Its stdout and stderr go to the log, logger ``rules.lambda.<name>``. A call
that outlives the function's timeout (3 s unless ``functions:`` says otherwise) kills the process — the next call
starts a fresh one — and fails like AWS's "Task timed out". AWS invokes rule Lambdas asynchronously and only
reports failed invocations; locally the handler's own exception also counts as the action failing (and runs the
rule's errorAction), which is what one wants to see while developing.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping
from itertools import count
from pathlib import Path
from typing import IO, Any

from simulator.rules.actions.base import ActionError, RuleAction, json_output
from simulator.rules.actions.lambda_worker import MARK
from simulator.rules.plan import LambdaFunction
from simulator.rules.schema import LambdaAction
from simulator.rules.sql.message import Message

WORKER = Path(__file__).with_name("lambda_worker.py")
INIT_TIMEOUT_S = 10.0  # like AWS's init phase, apart from the function's own timeout
_EXITED = object()


class LambdaWorker:
    """One warm process running one handler; calls are serialized."""

    def __init__(self, fn: LambdaFunction, env: Mapping[str, str]) -> None:
        self.fn = fn
        self.env = env
        self.log = logging.getLogger(f"rules.lambda.{fn.name}")
        self.starts = 0
        self.closed = False
        self._proc: subprocess.Popen | None = None
        self._replies: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._ids = count(1)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _pump(self, stream: IO[str], replies: queue.Queue, err: bool) -> None:
        for raw in stream:
            line = raw.rstrip("\r\n")
            if not err and line.startswith(MARK):
                replies.put(json.loads(line[len(MARK):]))
            elif line:
                (self.log.warning if err else self.log.info)("%s", line)
        if not err:
            replies.put(_EXITED)

    def _start(self) -> None:
        fn = self.fn
        region = self.env.get("AWS_DEFAULT_REGION") or self.env.get("AWS_REGION") or "us-east-1"
        env = {**self.env, "AWS_LAMBDA_FUNCTION_NAME": fn.name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
               "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_TIMEOUT": f"{fn.timeout:g}",
               "AWS_DEFAULT_REGION": region, "AWS_REGION": region, "PYTHONUNBUFFERED": "1"}
        self._proc = subprocess.Popen(
            [sys.executable, "-u", str(WORKER), str(fn.path), fn.handler, fn.name, fn.arn, f"{fn.timeout:g}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=fn.path.parent, env=env,
            text=True, encoding="utf-8", errors="replace", start_new_session=os.name == "posix")
        self.starts += 1
        replies: queue.Queue[Any] = queue.Queue()
        self._replies = replies
        for stream, err in ((self._proc.stdout, False), (self._proc.stderr, True)):
            threading.Thread(target=self._pump, args=(stream, replies, err), daemon=True,
                             name=f"lambda-{fn.name}-{'err' if err else 'out'}").start()
        ready = self._wait(0, INIT_TIMEOUT_S)
        if ready is None:
            self._kill()
            raise ActionError(f"Lambda {fn.name} did not start within {INIT_TIMEOUT_S:g} s", fn.arn)
        if not ready.get("ready"):
            self._kill()
            raise ActionError(f"Lambda {fn.name} failed to load {fn.path.name}: "
                               f"{ready.get('errorType')}: {ready.get('errorMessage')}", fn.arn)
        self.log.info("started %s (pid %d)", fn.path, self._proc.pid)

    def _wait(self, request_id: int, timeout: float) -> dict | None:
        """The reply to ``request_id``; None on timeout; ActionError when the process exits first."""
        try:
            while True:
                reply = self._replies.get(timeout=timeout)
                if reply is _EXITED:
                    code = self._proc.wait(timeout=5) if self._proc is not None else None
                    self._proc = None
                    raise ActionError(f"Lambda {self.fn.name} process exited (code {code})", self.fn.arn)
                if reply.get("id") == request_id:
                    return reply
        except queue.Empty:
            return None

    def invoke(self, event: Any) -> Any:
        """Run the handler on ``event``; its return value, or ActionError (its error, a timeout, a crash)."""
        with self._lock:
            if self.closed:
                raise ActionError(f"Lambda {self.fn.name} was not run: the rules engine is stopping", self.fn.arn)
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            request_id = next(self._ids)
            line = json.dumps({"id": request_id, "event": event, "requestId": str(uuid.uuid4())})
            proc = self._proc
            try:
                if proc is None or proc.stdin is None:
                    raise OSError("no process")
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
            except OSError:
                self._kill()
                raise ActionError(f"Lambda {self.fn.name} process is gone", self.fn.arn) from None
            reply = self._wait(request_id, self.fn.timeout)
            if reply is None:
                self._kill()
                raise ActionError(f"Task timed out after {self.fn.timeout:.2f} seconds", self.fn.arn)
            if not reply.get("ok"):
                raise ActionError(f"Lambda {self.fn.name} raised {reply.get('errorType')}: "
                                   f"{reply.get('errorMessage')}", self.fn.arn)
            return reply.get("result")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)  # the handler's own children too
            else:
                proc.kill()
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)

    def close(self) -> None:
        """End the process (without waiting for a call in progress: that call fails) and refuse new calls."""
        self.closed = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                if proc.stdin is not None:
                    proc.stdin.close()  # end of requests: an idle worker exits by itself
                proc.wait(timeout=1)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()


class LambdaPool:
    """The engine's workers, one per handler."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self._workers: dict[tuple[Path, str, str, float], LambdaWorker] = {}
        self._lock = threading.Lock()

    def worker(self, fn: LambdaFunction) -> LambdaWorker:
        with self._lock:
            key = (fn.path, fn.handler, fn.name, fn.timeout)
            if key not in self._workers:
                self._workers[key] = LambdaWorker(fn, self.env)
            return self._workers[key]

    def invoke(self, fn: LambdaFunction, event: Any) -> Any:
        return self.worker(fn).invoke(event)

    def close(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for w in workers:
            w.close()


class LambdaInvoke(RuleAction[LambdaAction]):
    """``{"lambda": {"functionArn": ...}}``: the outgoing JSON is the handler's event."""

    def target(self) -> str:
        return self.spec.function_arn

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        fn = self.plan.function
        if fn is None:  # the loader always finds one
            raise ActionError("no local handler for this function", self.target())
        result = self.services.lambdas.invoke(fn, json_output(output, "lambda"))
        logging.getLogger(f"rules.lambda.{fn.name}").debug("returned %r", result)
