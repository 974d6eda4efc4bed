"""``python main.py users add NAME [--instructor] | list | remove NAME``: the embedded broker's password file.

The file is in mosquitto's format (``$7$`` PBKDF2-SHA512 hashes), so a mosquitto broker can use it as it is. A
thing user's name is its thing name: it may publish only to its own ``$aws/things/<name>/...`` and
``deeplens/<name>/...`` topics; an instructor may publish and subscribe anywhere. ``add`` asks for the password
(twice), reads it from standard input (``--password-stdin``), or makes one up and prints it once
(``--generate``, also what happens when there is no terminal to ask on).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from ..broker.passwords import PasswordFile, check_name, generate_password
from ..errors import SimulatorError
from ..paths import data_dir

ENV_HINT = "default: <data folder>/broker/passwd"


def default_password_file() -> Path:
    return data_dir() / "broker" / "passwd"


def add_parser(subparsers) -> None:
    """Add the ``users`` subcommand to an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        "users", help="manage the broker's users (password file)",
        description="Users of the embedded MQTT broker, in a mosquitto-compatible password file. A thing user "
                    "(named after its thing) publishes only to its own topics; an instructor anywhere.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--file", type=Path, metavar="PATH", help=f"the password file ({ENV_HINT})")
    actions = parser.add_subparsers(dest="users_cmd", metavar="{add,list,remove}")
    adder = actions.add_parser("add", help="add a user, or set a user's password and role", parents=[common])
    adder.add_argument("name", help="the user name (a thing user's name is its thing name)")
    adder.add_argument("--instructor", action="store_true", help="may publish and subscribe anywhere")
    how = adder.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    how.add_argument("--generate", action="store_true", help="make up a password and print it once")
    actions.add_parser("list", help="list the users and their roles", parents=[common])
    remover = actions.add_parser("remove", help="remove a user", parents=[common])
    remover.add_argument("name")
    parser.set_defaults(users_parser=parser)


def _error(text: str) -> int:
    print(f"error: {text}", file=sys.stderr)
    return 2  # every error of main.py exits with 2


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, made up here)."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise SimulatorError("no password on standard input")
        return password, False
    if args.generate or not sys.stdin.isatty():
        return generate_password(), True
    first = getpass.getpass(f"password for {args.name}: ")
    if not first:
        raise SimulatorError("an empty password", hint="type one, or use --generate")
    if getpass.getpass("again: ") != first:
        raise SimulatorError("the two passwords differ")
    return first, False


def _add(path: Path, args: argparse.Namespace) -> int:
    check_name(args.name)
    users = PasswordFile.load(path, missing_ok=True)
    password, generated = _password(args)
    existed = args.name in users.users
    users.set(args.name, password, "instructor" if args.instructor else "thing")
    users.save()
    role = "instructor" if args.instructor else f"thing user (publishes to $aws/things/{args.name}/...)"
    print(f"{'updated' if existed else 'added'} {args.name}, {role}, in {path}")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _list(path: Path) -> int:
    users = PasswordFile.load(path, missing_ok=True)
    for user in users.users.values():
        print(f"{user.name:<32} {user.role}")
    print(f"{len(users.users)} user(s) in {path}")
    return 0


def _remove(path: Path, name: str) -> int:
    users = PasswordFile.load(path, missing_ok=True)
    if not users.remove(name):
        return _error(f"no user {name!r} in {path}")
    users.save()
    print(f"removed {name} from {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``users ...``; returns the exit code (errors are printed as one line on stderr)."""
    cmd = getattr(args, "users_cmd", None)
    path = getattr(args, "file", None) or default_password_file()
    try:
        if cmd == "add":
            return _add(path, args)
        if cmd == "list":
            return _list(path)
        if cmd == "remove":
            return _remove(path, args.name)
    except SimulatorError as exc:
        return _error(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
    except (KeyboardInterrupt, EOFError):
        return _error("interrupted")
    parser = getattr(args, "users_parser", None)
    if parser is not None:
        parser.print_usage(sys.stderr)
    return _error("choose one of: users add NAME [--instructor], users list, users remove NAME")
