"""``main.py service install [--user] [ARGS...]`` / ``service remove [--user]``: start the simulator headless at
boot with systemd (the arguments after ``install`` are passed to ``main.py --headless``)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from simulator.service import UNIT_NAME, unit_path, unit_text

# main.py's options that name a file or folder: made absolute, since the unit runs in the simulator's checkout
PATH_FLAGS = frozenset({"--project", "--source", "--rules", "--artifacts", "--password-file", "--tls-cert",
                        "--tls-key", "--broker-ca", "--broker-cert", "--broker-key"})


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


def checked_args(extra: list[str]) -> list[str]:
    """The arguments for ``main.py --headless``, parsed as it parses them and the project and profile looked up
    (a mistake is an error now, not a unit that fails at every start), files and folders made absolute."""
    from simulator.cli.app import _run_parser
    from simulator.profiles import load_profile
    from simulator.projects import resolve_project

    parsed = _run_parser().parse_args(["--headless", *extra])  # UsageError: one error line, exit code 2
    absolute = [_absolute(t) if i and extra[i - 1] in PATH_FLAGS else _absolute_inline(t) for i, t in enumerate(extra)]
    if parsed.project:
        resolve_project(_absolute(parsed.project))  # ConfigError names the project
    if parsed.profile:
        load_profile(parsed.profile)
    return absolute


def _absolute(value: str) -> str:
    path = Path(value).expanduser()
    return str(path.resolve()) if path.exists() else value


def _absolute_inline(token: str) -> str:
    flag, eq, value = token.partition("=")
    return f"{flag}={_absolute(value)}" if eq and flag in PATH_FLAGS else token


def run(args: argparse.Namespace) -> int:
    user = bool(args.user)
    path = unit_path(user)
    scope = "--user " if user else ""
    if args.service_cmd == "install":
        extra = [a for a in args.args if a != "--"]
        if "--headless" in extra:
            extra.remove("--headless")
        extra = checked_args(extra)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(unit_text(extra, user), encoding="utf-8")
        except PermissionError:
            print(f"error: cannot write {path}: permission denied (run with sudo, or use --user)", file=sys.stderr)
            return 2
        print(f"wrote {path}")
        enabled = not args.no_enable and _systemctl(user, "daemon-reload") and _systemctl(user, "enable", UNIT_NAME)
        if enabled:
            print(f"enabled: systemctl {scope}enable --now {UNIT_NAME}")
        else:
            print(f"not enabled{'' if args.no_enable else ' (see above)'}; to enable it: "
                  f"systemctl {scope}enable --now {UNIT_NAME}")
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
