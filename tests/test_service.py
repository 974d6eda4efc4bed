"""A headless Pi started at boot: the systemd unit `service install` writes, and the notify protocol spoken
for real over a unix datagram socket (READY, WATCHDOG while healthy, STOPPING)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.conftest import ROOT

MAIN = [sys.executable, str(ROOT / "main.py")]


def test_service_install_writes_a_watched_unit_and_remove_deletes_it(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "PATH": "/nonexistent"}  # no systemctl here
    args = ["--profile", "raspberry-pi-4", "--project", "hotdog", "--listen", "0.0.0.0"]
    done = subprocess.run([*MAIN, "service", "install", "--user", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    unit = tmp_path / "systemd" / "user" / "deeplens-sim.service"
    text = unit.read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert exec_line == f"ExecStart={sys.executable} {ROOT / 'main.py'} --headless {' '.join(args)}"
    for line in ("Type=notify", "NotifyAccess=main", "Restart=on-failure", "WatchdogSec=60",
                 f"WorkingDirectory={ROOT}", "WantedBy=default.target", "KillSignal=SIGINT"):
        assert line in text.splitlines(), line
    assert "systemctl --user enable --now deeplens-sim.service" in done.stdout
    assert "loginctl enable-linger" in done.stdout
    removed = subprocess.run([*MAIN, "service", "remove", "--user"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    assert removed.returncode == 0 and not unit.exists()


def test_headless_run_speaks_the_systemd_notify_protocol(tmp_path, tiny_artifacts, video_file):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(120)
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}  # a ping every second
    proc = subprocess.Popen([*MAIN, "--headless", "--duration", "6", "--mqtt-port", "0", "--http-port", "0",
                             "--source", str(video_file), "--artifacts", str(tiny_artifacts),
                             "--project", str(ROOT / "tests/lambdas/style2018")],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    messages: list[str] = []
    try:
        while not any(m.startswith("STOPPING=1") for m in messages):
            messages.append(server.recv(4096).decode())
    finally:
        _, err = proc.communicate(timeout=120)
        server.close()
    assert proc.returncode == 0, err[-2000:]
    assert messages[0].startswith("READY=1\nSTATUS=running as ")
    assert messages.count("WATCHDOG=1") >= 2 and messages[-1] == "STOPPING=1"


def test_service_install_checks_its_arguments_and_makes_paths_absolute(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "PATH": "/nonexistent"}
    unit = tmp_path / "config" / "systemd" / "user" / "deeplens-sim.service"
    for bad, said in ((["--project", "nosuchproject"], "unknown project 'nosuchproject'"),
                      (["--bogus-flag"], "unrecognized arguments: --bogus-flag")):
        done = subprocess.run([*MAIN, "service", "install", "--user", "--no-enable", *bad], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and said in done.stderr, done.stderr  # not a unit failing at every start
        assert not unit.exists()
    (tmp_path / "sinks.yaml").write_text("rules: []\n")
    done = subprocess.run([*MAIN, "service", "install", "--user", "--no-enable", "--rules", "sinks.yaml",
                           f"--artifacts={tmp_path}", "--project", "hotdog"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    exec_line = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    assert exec_line.endswith(f"--headless --rules {tmp_path / 'sinks.yaml'} --artifacts={tmp_path} --project hotdog")
