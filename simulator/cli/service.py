"""``main.py service install [--user] [ARGS...]`` / ``service remove [--user]``: start the simulator headless at
boot with systemd (the arguments after ``install`` are passed to ``main.py --headless``)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from simulator.service import UNIT_NAME, unit_path, unit_text


def add_parser(sub) -> None:
    parser = sub.add_parser("service", help="start the simulator headless at boot (systemd)",
                            description="Write (or remove) a systemd unit that runs main.py --headless ARGS, "
                                        "restarts it on failure and watches it (sd_notify watchdog).")
    cmds = parser.add_subparsers(dest="service_cmd", required=True)
    install = cmds.add_parser("install", help="write the unit and enable it")
    install.add_argument("--user", action="store_true", help="a user unit (~/.config/systemd/user), no root needed")
    install.add_argument("--no-enable", action="store_true", help="only write the file")
    install.add_argument("args", nargs=argparse.REMAINDER, help="arguments for main.py --headless")
    remove = cmds.add_parser("remove", help="disable and delete the unit")
    remove.add_argument("--user", action="store_true")


def _systemctl(user: bool, *args: str) -> bool:
    tool = shutil.which("systemctl")
    if tool is None:
        return False
    result = subprocess.run([tool, *(["--user"] if user else []), *args], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"note: systemctl {' '.join(args)}: {result.stderr.strip() or result.returncode}", file=sys.stderr)
    return result.returncode == 0


def run(args: argparse.Namespace) -> int:
    user = bool(args.user)
    path = unit_path(user)
    scope = "--user " if user else ""
    if args.service_cmd == "install":
        extra = [a for a in args.args if a != "--"]
        if "--headless" in extra:
            extra.remove("--headless")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(unit_text(extra, user), encoding="utf-8")
        except PermissionError:
            print(f"error: cannot write {path}: permission denied (run with sudo, or use --user)", file=sys.stderr)
            return 2
        print(f"wrote {path}")
        enabled = not args.no_enable and _systemctl(user, "daemon-reload") and _systemctl(user, "enable", UNIT_NAME)
        print(f"{'enabled' if enabled else 'to enable it'}: systemctl {scope}enable --now {UNIT_NAME}")
        print(f"logs: journalctl {'--user ' if user else ''}-u {UNIT_NAME} -f")
        if user:
            print("to start it at boot before anyone logs in: sudo loginctl enable-linger $USER")
        return 0
    if path.exists():
        _systemctl(user, "disable", "--now", UNIT_NAME)
        path.unlink()
        _systemctl(user, "daemon-reload")
        print(f"removed {path}")
    else:
        print(f"no unit at {path}")
    return 0
