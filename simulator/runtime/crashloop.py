"""Crash loops told once: a traceback shown in full only the first time it appears, the error of each exit
compared with the one before, and what the supervisor can say about an error it recognises (a module the
simulator lacks, an environment variable the Lambda needs).
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

TRACEBACK = "Traceback (most recent call last):"
CHAINED = ("During handling of the above exception, another exception occurred:",
           "The above exception was the direct cause of the following exception:")
HOLD_SECONDS = 1.0  # a repeated traceback not followed by an exit within this is shown as one line

# Modules of the DeepLens device (or of Greengrass on it) that the simulator does not provide.
DEVICE_MODULES = {
    "awscamdldt": "the device's inference engine behind awscam",
    "openvino.inference_engine": "the device's OpenVINO 2018–2020 API; today's openvino has openvino.Core instead",
    "greengrass_common": "Greengrass's own internals",
    "greengrass_ipc_python_sdk": "Greengrass's own internals",
    "tensorflow": "TensorFlow, installed on the device; convert the model to OpenVINO IR or ONNX instead",
    "caffe": "Caffe, installed on the device; convert the model to ONNX instead",
}

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_MISSING = re.compile(r"^(?:ModuleNotFoundError|ImportError): No module named '?([\w.]+)'?")
_KEY = re.compile(r"^KeyError: '([^']+)'")
_ENVIRON = re.compile(r"environ\[\s*['\"]([^'\"]+)['\"]\s*\]")
_OS_GETITEM = re.compile(r"""File "(?:<frozen os>|.*/os\.py)", line \d+, in __getitem__""")
_HOST_IMPORT = re.compile(r"""File ".*simulator[/\\]runtime[/\\]host\.py", line \d+, in load_lambda""")


@dataclass(frozen=True)
class Crash:
    """What a traceback says: its exception line, whether it happened at import, and what to do about it."""

    error: str
    at_import: bool
    hint: str | None = None
    env_variable: str | None = None


def _module_hint(name: str) -> str:
    for module, what in DEVICE_MODULES.items():
        if name == module or name.startswith(module + "."):
            return (f"'{name}' is a module the DeepLens device had ({what}); the simulator does not provide it: "
                    "remove or guard that import in the Lambda")
    top = name.split(".")[0]
    return (f"install the package that provides '{top}' into the simulator's Python: {sys.executable} -m pip "
            f"install {top} (the package may have another name), or bundle it beside the Lambda as on the device")


def parse_traceback(block: tuple[str, ...] | list[str]) -> Crash | None:
    """The crash a traceback block (as printed by Python, chained ones included) describes."""
    error = next((line.strip() for line in reversed(block) if line.strip() and not line[:1].isspace()
                  and line != TRACEBACK and line not in CHAINED), None)
    if error is None:
        return None
    at_import = any(_HOST_IMPORT.search(line) for line in block)
    missing, key = _MISSING.match(error), _KEY.match(error)
    if missing:
        return Crash(error, at_import, _module_hint(missing.group(1)))
    if key:
        code = [m.group(1) for line in block if (m := _ENVIRON.search(line))]
        if key.group(1) in code or any(_OS_GETITEM.search(line) for line in block):
            name = key.group(1)
            return Crash(error, at_import, f"the Lambda reads the environment variable {name}, which is not set: "
                                           f"set it with --env {name}=VALUE or under env: in the project's settings",
                         env_variable=name)
    return Crash(error, at_import)


class TracebackFolder:
    """Shows a traceback in full the first time; the same traceback again (addresses aside) is held back: dropped
    if the process exits right after it (the supervisor's 'crashed again' line says it), else shown as one line."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._block: list[str] | None = None  # the traceback being read
        self._after_error = False  # its exception line was read: a plain line now ends it
        self._since = 0.0
        self._shown: tuple[str, ...] | None = None  # the last traceback shown in full
        self._held: tuple[str, ...] | None = None  # a repeat, not shown yet
        self.last_block: tuple[str, ...] | None = None  # the last traceback of this run
        self.lines_after = 0  # non-empty lines after it

    def new_run(self) -> None:
        with self._lock:
            self.last_block, self.lines_after = None, 0

    @staticmethod
    def _key(block: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_ADDRESS.sub("0x", line) for line in block)

    def _release_held(self, out: list[str]) -> None:
        if self._held is not None:
            crash = parse_traceback(self._held)
            out.append(f"[the same traceback again: {crash.error if crash else self._held[-1]}]")
            self._held = None

    def _close_block(self, out: list[str]) -> None:
        block = self._block or []
        while block and not block[-1].strip():
            block.pop()
        self._block, self._after_error = None, False
        done = tuple(block)
        self.last_block, self.lines_after = done, 0
        if self._shown is not None and self._key(done) == self._key(self._shown):
            self._held, self._since = done, self._clock()
        else:
            out.extend(done)
            self._shown = done

    def feed(self, line: str) -> list[str]:
        """The lines to show now, given the next stderr line."""
        out: list[str] = []
        with self._lock:
            if self._block is not None:
                continuing = (not self._after_error or not line.strip() or line in CHAINED
                              or line == TRACEBACK)
                if continuing:
                    if line == TRACEBACK:
                        self._after_error = False
                    elif self._after_error is False and line.strip() and not line[:1].isspace():
                        self._after_error = True  # the exception line
                    self._block.append(line)
                    return out
                self._close_block(out)
            self._release_held(out)
            if line == TRACEBACK:
                self._block, self._after_error, self._since = [line], False, self._clock()
                return out
            if line.strip():
                self.lines_after += 1
            out.append(line)
        return out

    def tick(self) -> list[str]:
        """Lines due now: a traceback left open, or a repeat held back, for longer than ``HOLD_SECONDS``."""
        out: list[str] = []
        with self._lock:
            if self._block is not None and self._after_error and self._clock() - self._since > HOLD_SECONDS:
                self._close_block(out)
                return out  # a repeat just held gets its own HOLD_SECONDS
            if self._held is not None and self._clock() - self._since > HOLD_SECONDS:
                self._release_held(out)
        return out

    def finish(self, exited: bool) -> list[str]:
        """At the end of the stream: the open traceback decided; a held repeat dropped if the process exited."""
        out: list[str] = []
        with self._lock:
            if self._block is not None:
                self._close_block(out)
            if exited:
                self._held = None
            else:
                self._release_held(out)
        return out


@dataclass(frozen=True)
class Verdict:
    """How an exit compares with those before it."""

    error: str | None
    repeats: int  # exits in a row with this same error, before this one
    crash: Crash | None
    failing: bool  # this exit makes the failure worth reporting as a LambdaFailing now
    note: str | None  # the status note while it lasts


class CrashHistory:
    """Consecutive exits with the same error; after ``loop_after`` identical failures at import, a note."""

    def __init__(self, loop_after: int = 3) -> None:
        self.loop_after = loop_after
        self._last: str | None = None
        self.repeats = 0
        self.note: str | None = None

    def record(self, error: str | None, crash: Crash | None) -> Verdict:
        if error is not None and error == self._last:
            self.repeats += 1
        else:
            self.repeats, self.note = 0, None
        self._last = error
        failures = self.repeats + 1
        failing = False
        if crash is not None and crash.env_variable and failures == 1:
            failing = True
            self.note = crash.hint
        elif crash is not None and crash.at_import and failures == self.loop_after:
            failing = True
            self.note = f"failing at import: {crash.error}" + (f" — {crash.hint}" if crash.hint else "")
        return Verdict(error, self.repeats, crash, failing, self.note)

    def clear(self) -> None:
        self._last, self.repeats, self.note = None, 0, None
