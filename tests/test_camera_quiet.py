"""A source that cannot be opened is reported by the simulator alone: neither OpenCV's log (``[ WARN:0@…] …``) nor
FFmpeg's (``[mov,mp4,… @ 0x…] moov atom not found``) reaches the terminal before its ``error:`` line, and probing
for webcams (as the desktop window does) says nothing. Run in fresh processes: FFmpeg's log level is fixed at its
first use in a process, and the variables that would silence the libraries are removed from their environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid

import cv2
import numpy as np
import pytest

from simulator.camera.quiet import quiet_opencv
from tests.conftest import ROOT

MAIN = [sys.executable, str(ROOT / "main.py")]
LOG = cv2.utils.logging


def _bare_env() -> dict[str, str]:
    """This environment without anything that sets OpenCV's or FFmpeg's log level."""
    return {k: v for k, v in os.environ.items()
            if k not in ("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL", "OPENCV_FFMPEG_DEBUG")}


def _library_lines(stderr: str) -> list[str]:
    """Lines the libraries wrote: OpenCV's start with ``[ WARN`` / ``[ERROR``, FFmpeg's with ``[<component> @ 0x``."""
    return [line for line in stderr.splitlines() if line.startswith("[")]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def not_a_video(tmp_path):
    """A file named like a video that holds no video: FFmpeg's mp4 demuxer finds no moov atom in it."""
    path = tmp_path / "notvideo.mp4"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 5000, np.uint8).tobytes())
    return path


@pytest.mark.parametrize("kind", ["file", "rtsp"])
def test_a_source_that_cannot_be_opened_gives_only_the_simulators_error(kind, not_a_video):
    source = str(not_a_video) if kind == "file" else f"rtsp://127.0.0.1:{_closed_port()}/none"
    result = subprocess.run([*MAIN, "--headless", "--mqtt-port", "0", "--http-port", "0", "--cloud-port", "0",
                             "--thing-name", f"test_{uuid.uuid4().hex[:8]}", "--source", source],
                            cwd=ROOT, env=_bare_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"cannot open source {source}" in errors[0], result.stderr[-2000:]
    assert _library_lines(result.stderr) == [], result.stderr[-2000:]


def test_probing_webcams_says_nothing(not_a_video):
    """As the window lists webcams (indexes 0 to 3), then a file that is no video: nothing but the answers."""
    code = ("from simulator.camera.sources import open_source, probe_webcam\n"
            "from simulator.errors import SourceError\n"
            "print([probe_webcam(i) for i in range(4)])\n"
            "try:\n"
            f"    open_source({str(not_a_video)!r}).open()\n"
            "except SourceError as exc:\n"
            "    print('refused:', exc.message)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_bare_env(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "refused: cannot open source" in result.stdout
    assert result.stderr == ""


def test_opencvs_log_level_is_lowered_only_while_opening():
    before = LOG.getLogLevel()
    try:
        LOG.setLogLevel(LOG.LOG_LEVEL_WARNING)
        inside_first = threading.Event()
        let_go = threading.Event()
        seen: list[int] = []

        def other_thread() -> None:  # a second block that starts inside the first and ends after it
            with quiet_opencv():
                inside_first.set()
                let_go.wait(10)
                seen.append(LOG.getLogLevel())

        with quiet_opencv():
            assert LOG.getLogLevel() == LOG.LOG_LEVEL_SILENT
            thread = threading.Thread(target=other_thread)
            thread.start()
            assert inside_first.wait(10)
        assert LOG.getLogLevel() == LOG.LOG_LEVEL_SILENT  # the other block still runs
        let_go.set()
        thread.join(10)
        assert seen == [LOG.LOG_LEVEL_SILENT]
        assert LOG.getLogLevel() == LOG.LOG_LEVEL_WARNING  # restored when the last block ended

        LOG.setLogLevel(LOG.LOG_LEVEL_DEBUG)  # someone asked for OpenCV's diagnostics: they are kept
        with quiet_opencv():
            assert LOG.getLogLevel() == LOG.LOG_LEVEL_DEBUG
        assert LOG.getLogLevel() == LOG.LOG_LEVEL_DEBUG
    finally:
        LOG.setLogLevel(before)


LAMBDA_LIKE = """
import os, subprocess, sys
from simulator.camera.sources import open_source
from simulator.errors import SourceError
try:
    open_source(sys.argv[1]).open()
except SourceError:
    pass
child = subprocess.run([sys.executable, "-c", "import cv2, sys; cv2.VideoCapture(sys.argv[1])", sys.argv[1]],
                       env=dict(os.environ), capture_output=True, text=True)
print(child.stderr)
"""


def test_the_lambda_keeps_ffmpegs_log(not_a_video):
    """FFmpeg's level goes only into this process's C environment: a process started with a copy of ``os.environ``
    (as the Lambda is) still hears FFmpeg as usual."""
    result = subprocess.run([sys.executable, "-c", LAMBDA_LIKE, str(not_a_video)], cwd=ROOT, env=_bare_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.stderr == ""  # the simulator's process: quiet
    assert "moov atom not found" in result.stdout  # the other's: FFmpeg's usual log
