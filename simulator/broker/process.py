"""The amqtt broker in a child process of its own (child.py), from the side of the process that starts it.

amqtt is pure Python: in a thread of the simulator's core it competes for the interpreter with the camera, the
viewer and the MQTT clients of the same process, and its latency with them (bench/broker_capacity.py: 50 devices,
p99 0.9 ms in a process of its own, 19 ms in a thread beside a core-like load). So it runs in a child process,
which inherits the listening sockets bound here (a taken port is reported here, before the child starts) and is
told of every credential issued and thing hosted. The child ends when told to, or when this process goes away
(the end of its standard input).

    child = BrokerProcess().start(settings, policy, sockets, timeout)
    child.issue(name, role, password); child.host(thing); child.stats(); child.stop()
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import subprocess
import sys
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

from simulator.broker.acl import Policy
from simulator.broker.settings import BrokerSettings
from simulator.broker.stats import BrokerStats
from simulator.errors import ConfigError, SimulatorError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REQUEST_TIMEOUT = 10.0


def forward_logs(stream: Any) -> None:
    """Log the child's records again through this process's loggers (handlers, levels and filters apply)."""
    for line in stream:
        try:
            fields = json.loads(line)
            record = logging.makeLogRecord({"name": fields["name"], "levelno": fields["level"],
                                            "levelname": logging.getLevelName(fields["level"]), "msg": fields["msg"]})
        except (ValueError, KeyError, TypeError):
            record = logging.makeLogRecord({"name": "simulator.broker.child", "levelno": logging.WARNING,
                                            "levelname": "WARNING", "msg": line.rstrip()})
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


class BrokerProcess:
    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._last = BrokerStats(impl="amqtt")
        self._stopping = False
        self.info: dict[str, Any] = {}  # what the child said when ready: its event loop and amqtt version
        self._pending: dict[str, Any] | None = None  # the configuration is sent, its answer not read yet
        self._ready_timeout = 10.0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, settings: BrokerSettings, policy: Policy, sockets: dict[str, socket.socket],
              timeout: float = 10.0, wait: bool = True) -> BrokerProcess:
        """Start the child on ``sockets`` (closed here once it has them); returns once it serves, or at once with
        ``wait=False`` (clients may connect meanwhile: the sockets already listen; call :meth:`wait_ready` before
        anything else is asked of it)."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        argv = [sys.executable, "-u", *(["-P"] if sys.version_info >= (3, 11) else []), "-m",
                "simulator.broker.child"]
        fds = {name: sock.fileno() for name, sock in sockets.items()}
        try:
            # its own session: a signal to the whole group (Ctrl-C, `timeout`, `kill -- -PGID`) reaches the
            # simulator, which stops this process itself; it ends on its own when the simulator goes away (stdin)
            self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          pass_fds=tuple(fds.values()), env=env, text=True, bufsize=1,
                                          start_new_session=os.name == "posix")
            threading.Thread(target=self._watch, args=(self._proc,), name="mqtt-broker-log", daemon=True).start()
            config = {"settings": settings.model_dump(mode="json"), "hosted": sorted(policy.hosted),
                      "issued": policy.issued(), "fds": fds,
                      "log_level": logging.getLevelName(logging.getLogger("simulator.broker").getEffectiveLevel())}
            self._pending = self._send(config)
            self._ready_timeout = timeout
            if wait:
                self.wait_ready()
        finally:
            for sock in sockets.values():
                sock.close()
        return self

    def wait_ready(self) -> None:
        """Wait for the child's answer to its configuration (once); a child that failed to start is stopped
        and its error raised."""
        with self._lock:
            if self._pending is None:
                return
            pending, self._pending = self._pending, None
            answer = pending if "error" in pending else self._read(self._ready_timeout)
        if "error" in answer:
            self.stop()
            error = ConfigError if answer.get("config") else SimulatorError
            raise error(answer["error"], hint=answer.get("hint"))
        self.info = answer

    def _watch(self, proc: subprocess.Popen) -> None:
        """Log the child's records here until it ends; an end nobody asked for is an error."""
        forward_logs(proc.stderr)
        if not self._stopping:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            log.error("the MQTT broker process exited unexpectedly (code %s): MQTT clients cannot connect",
                      proc.returncode)

    def _send(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one line: ``{}``, or an error answer if the child has gone."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            return {"error": "the MQTT broker is not running"}
        try:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
        except (OSError, ValueError):
            return self._gone()
        return {}

    def _read(self, timeout: float) -> dict[str, Any]:
        """Read one answer line (an error answer if the child has gone or does not answer)."""
        proc = self._proc
        if proc is None or proc.stdout is None:
            return {"error": "the MQTT broker is not running"}
        try:
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            line = proc.stdout.readline() if ready else ""
        except (OSError, ValueError):
            return self._gone()
        if not line:
            return self._gone() if ready else {"error": f"the MQTT broker process did not answer within {timeout:g} s"}
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _gone(self) -> dict[str, Any]:
        proc = self._proc
        if proc is None:
            return {"error": "the MQTT broker is not running"}
        with suppress(subprocess.TimeoutExpired):
            proc.wait(1)
        return {"error": f"the MQTT broker process exited (code {proc.returncode})"}

    def _exchange(self, message: dict[str, Any], timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
        """Send one line, read the answer line."""
        if self._pending is not None:
            try:
                self.wait_ready()
            except SimulatorError as exc:
                return {"error": exc.message}
        with self._lock:
            sent = self._send(message)
            return sent if "error" in sent else self._read(timeout)

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        answer = self._exchange(message)
        if "error" in answer:
            log.error("%s (request %s)", answer["error"], message.get("op"))
        return answer

    def issue(self, name: str, role: str, password: str) -> None:
        self._request({"op": "issue", "name": name, "role": role, "password": password})

    def host(self, thing: str) -> None:
        self._request({"op": "host", "thing": thing})

    def stats(self) -> BrokerStats:
        """The child's counters (the last ones known if it cannot answer)."""
        answer = self._exchange({"op": "stats"})
        if "stats" in answer:
            self._last = BrokerStats(**answer["stats"])
        return self._last

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child (it shuts the broker down first). Safe to call twice."""
        proc = self._proc
        if proc is None:
            return
        self._stopping = True
        if proc.poll() is None:
            self._exchange({"op": "stop"}, timeout)
        self._proc = None
        try:
            if proc.stdin is not None:
                with suppress(OSError):
                    proc.stdin.close()
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the MQTT broker process did not stop within %g s: killed", timeout)
            proc.kill()
            proc.wait(timeout)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
