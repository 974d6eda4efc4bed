"""Running headless as a systemd service (a Raspberry Pi that starts the simulator at boot).

``unit_text(args, user)`` is the unit ``main.py service install`` writes: ``Type=notify`` (the simulator says
READY=1 once the device runs), ``WatchdogSec`` (it sends WATCHDOG=1 while the camera and the broker are alive,
so systemd restarts a simulator that hangs), ``Restart=on-failure``, output to the journal.
``Notifier`` speaks systemd's notify protocol (a datagram to ``$NOTIFY_SOCKET``) and does nothing elsewhere.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from pathlib import Path

from simulator.paths import PROJECT_ROOT

UNIT_NAME = "deeplens-sim.service"
WATCHDOG_SECONDS = 60


def unit_path(user: bool) -> Path:
    if user:
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(config) / "systemd" / "user" / UNIT_NAME
    return Path("/etc/systemd/system") / UNIT_NAME


def unit_text(args: list[str], user: bool, python: str | None = None) -> str:
    """The unit file: ``python main.py --headless ARGS`` in this checkout, restarted on failure."""
    command = [python or sys.executable, str(PROJECT_ROOT / "main.py"), "--headless", *args]
    lines = [
        "[Unit]",
        "Description=DeepLens simulator (headless, web viewer and MQTT)",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={shlex.join(command)}",
        f"WorkingDirectory={PROJECT_ROOT}",
        "Environment=PYTHONUNBUFFERED=1",
        "Restart=on-failure",
        "RestartSec=5",
        f"WatchdogSec={WATCHDOG_SECONDS}",
        "TimeoutStartSec=600",  # the first start may download and convert the bundled models
        "KillSignal=SIGINT",  # stops like Ctrl-C: the Lambda, the broker and the viewer, in order
        "",
        "[Install]",
        f"WantedBy={'default.target' if user else 'multi-user.target'}",
        "",
    ]
    return "\n".join(lines)


class Notifier:
    """sd_notify without a library: one datagram per message to ``$NOTIFY_SOCKET`` (absent: nothing happens)."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_every = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None  # half the period

    @property
    def active(self) -> bool:
        return bool(self.address)

    def send(self, message: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall(message.encode())
            return True
        except OSError:
            return False

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")
