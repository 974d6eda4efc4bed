"""The command line: run the simulator (window or headless), or one of the ``models`` / ``bench`` commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # no OpenCV chatter (webcam probing) on the terminal

from simulator import __version__
from simulator.errors import SimulatorError

SUBCOMMANDS = ("models", "bench")


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="main.py", description="Run AWS DeepLens Lambdas unmodified on any camera.",
                                epilog="other commands: main.py models --help | main.py bench --help")
    p.add_argument("--headless", action="store_true", help="no window: serve the web viewer instead")
    p.add_argument("--project", metavar="NAME|DIR|FILE.py", help="sample project name, project folder or Lambda file")
    p.add_argument("--source", metavar="SPEC",
                   help="webcam index (0), video file, image, folder, rtsp:// or http:// URL, 'pattern', 'demo' "
                        "(default: webcam 0 if present, else the bundled demo clip)")
    p.add_argument("--profile", default="host", metavar="NAME|FILE.yaml", help="hardware profile (default: host)")
    p.add_argument("--mqtt-port", type=int, default=1883, metavar="N", help="embedded broker port (0 = any free)")
    p.add_argument("--broker", metavar="HOST:PORT", help="use an external MQTT broker instead of the embedded one")
    p.add_argument("--broker-ca", type=Path, metavar="FILE", help="CA certificate for a TLS broker (AWS IoT Core)")
    p.add_argument("--broker-cert", type=Path, metavar="FILE", help="client certificate for a TLS broker")
    p.add_argument("--broker-key", type=Path, metavar="FILE", help="client private key for a TLS broker")
    p.add_argument("--http-port", type=int, default=8080, metavar="N", help="web viewer port (0 = any free)")
    p.add_argument("--thing-name", metavar="NAME", help="AWS_IOT_THING_NAME (default: deeplens_<uuid>, stable)")
    p.add_argument("--artifacts", type=Path, metavar="DIR", help="stands in for /opt/awscam/artifacts")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop cleanly after this many seconds")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--version", action="version", version=f"deeplens-simulator {__version__}")
    return p


def _sub_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="main.py")
    sub = p.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"simulator.cli.{name}").add_parser(sub)
    return p


class OncePerMinute(logging.Filter):
    """Library chatter: no tracebacks (unless DEBUG), and the same message at most once a minute.

    amqtt logs every QoS 1 acknowledgement that a stalled subscriber never sends with a full traceback; a
    Lambda publishing fast to such a subscriber would otherwise flood the terminal."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._seen: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefixes):
            return True
        record.exc_info, record.exc_text = None, None
        key = f"{record.name}:{record.msg}"
        now = record.created
        if now - self._seen.get(key, -1e9) < 60:
            return False
        self._seen[key] = now
        return True


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")
    noisy = ("amqtt", "transitions", "aiohttp.access")
    for name in noisy:
        logging.getLogger(name).setLevel(logging.WARNING if level != "DEBUG" else logging.INFO)
    if level != "DEBUG":
        for handler in logging.getLogger().handlers:  # a logger's own filter would miss its children's records
            handler.addFilter(OncePerMinute(noisy))


def has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM") in ("offscreen", "minimal", "vnc"))


def main(argv: list[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS:
        args = _sub_parser().parse_args(argv)
        _setup_logging("WARNING")
        module = importlib.import_module(f"simulator.cli.{args.command}")
        try:
            return module.run(args)
        except SimulatorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    args = _run_parser().parse_args(argv)
    _setup_logging(args.log_level)
    from simulator.config import RunConfig

    try:
        config = RunConfig(project=args.project, source=args.source, profile=args.profile,
                           mqtt_port=args.mqtt_port, broker=args.broker, broker_ca=args.broker_ca,
                           broker_cert=args.broker_cert, broker_key=args.broker_key, http_port=args.http_port,
                           thing_name=args.thing_name, artifacts=args.artifacts)
        if not args.headless:
            gui = _try_gui()
            if gui is not None:
                return gui(config, args.duration)
        from simulator.headless import run_headless

        return run_headless(config, args.duration)
    except SimulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _try_gui():
    """The GUI's run function, or None (with the reason printed) when a window cannot be opened."""
    if not has_display():
        print("no display found (DISPLAY/WAYLAND_DISPLAY unset): running headless", file=sys.stderr)
        return None
    try:
        from gui.app import run_gui
    except ImportError as exc:
        print(f"the desktop window is not available ({exc}): running headless; "
              "install it with: pip install -r requirements-gui.txt", file=sys.stderr)
        return None
    return run_gui


def run() -> int:
    """Console-script entry point (``deeplens-sim``)."""
    return main(sys.argv[1:])
