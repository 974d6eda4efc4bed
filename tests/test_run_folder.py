"""The per-run folder: private and unpredictable, never an existing one, files that refuse planted symlinks, and
what a killed simulator left behind removed at the next start."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys

import pytest

from simulator.errors import ConfigError
from simulator.ipc.run_folder import PREFIX, RUNTIME_DIR_ENV, RunFolder, clean_stale, runtime_root
from simulator.ipc.slot import SharedSlot
from tests.conftest import ROOT


def test_run_folder_is_private_and_unpredictable(tmp_path):
    one, two = RunFolder.create(tmp_path), RunFolder.create(tmp_path)
    try:
        assert one.path != two.path and one.path.name.startswith(f"{PREFIX}{os.getpid()}-")
        assert stat.S_IMODE(one.path.stat().st_mode) == 0o700
    finally:
        one.remove()
        two.remove()
    assert not one.path.exists()


def test_a_planted_symlink_is_refused_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = RunFolder.create(tmp_path)
    try:
        folder.frames.symlink_to(victim)  # someone plants a link where the frame slot will go
        with pytest.raises(FileExistsError):
            SharedSlot.create(folder.frames, 1024)
        assert victim.read_text() == "precious"
        folder.stats.write_bytes(b"not ours")  # nor is an existing file replaced
        with pytest.raises(FileExistsError):
            SharedSlot.create(folder.stats, 1024)
        with pytest.raises(OSError):
            SharedSlot.attach(folder.frames)  # readers do not follow it either
    finally:
        folder.remove()


def test_folders_of_dead_simulators_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{PREFIX}{dead.pid}-abcd1234"
    stale.mkdir()
    (stale / "frames").write_bytes(b"x" * 1024)
    mine = RunFolder.create(tmp_path)
    unrelated = tmp_path / "not-ours"
    unrelated.mkdir()
    removed = clean_stale(tmp_path)
    assert removed == [stale] and not stale.exists() and mine.path.exists() and unrelated.exists()
    mine.remove()


def test_kill_9_leaves_a_folder_that_the_next_start_removes(tiny_artifacts, video_file, tmp_path):
    cmd = [sys.executable, str(ROOT / "main.py"), "--headless", "--mqtt-port", "0", "--http-port", "0",
           "--source", str(video_file), "--artifacts", str(tiny_artifacts), "--project", ""]
    root = tmp_path / "runtime"  # a root of its own: no other simulator on the machine cleans up before ours
    env = {**os.environ, RUNTIME_DIR_ENV: str(root)}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for line in proc.stdout:
        if "MQTT:" in line:
            break
    left = [p for p in root.glob(f"{PREFIX}{proc.pid}-*")]
    assert left, "the run folder was not made"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert all(p.exists() for p in left)  # killed: nothing could clean up
    again = subprocess.run([*cmd, "--duration", "1"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert not any(p.exists() for p in left)
    assert "no longer running" in again.stderr


def test_the_runtime_folder_variable_is_made_absolute_and_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(RUNTIME_DIR_ENV, "rt")
    assert runtime_root() == tmp_path / "rt" and (tmp_path / "rt").is_dir()  # absolute: the Lambda has another cwd
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(tmp_path / "a-file"))
    with pytest.raises(ConfigError, match=f"{RUNTIME_DIR_ENV}=.*a-file: cannot make that folder"):
        runtime_root()
