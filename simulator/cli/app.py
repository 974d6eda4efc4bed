"""The command line: run the simulator (window or headless), or one of the ``models`` / ``bench`` commands."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # no OpenCV chatter (webcam probing) on the terminal

from simulator import __version__
from simulator.cli.args import CliExit, CliParser, UsageError, seconds
from simulator.errors import SimulatorError

SUBCOMMANDS = ("models", "bench", "projects", "lambda", "service", "users", "fleet")
SUBCOMMAND_MODULES = {"lambda": "lambda_cmd"}  # "lambda" is a keyword: its module has another name


def _run_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="main.py", description="Run AWS DeepLens Lambdas unmodified on any camera.",
                                epilog="other commands: main.py models --help | bench --help | projects --help | "
                                       "lambda --help | users --help | fleet --help | service --help")
    p.add_argument("--headless", action="store_true", help="no window: serve the web viewer instead")
    p.add_argument("--project", metavar="NAME|DIR|FILE.py", help="sample project name, project folder or Lambda file")
    p.add_argument("--source", metavar="SPEC",
                   help="webcam index (0), video file, image, folder, rtsp:// or http:// URL, 'pattern', 'demo', "
                        "'picamera' (Raspberry Pi camera module; 'picamera:N' for another) "
                        "(default: webcam 0 if present, else the Pi camera, else the bundled demo clip)")
    p.add_argument("--profile", metavar="NAME|FILE.yaml",
                   help="hardware profile (default: raspberry-pi-4/-5 on those boards, else host)")
    p.add_argument("--listen", default="127.0.0.1", metavar="ADDR",
                   help="address the broker and the viewer listen on (default 127.0.0.1; 0.0.0.0: every interface, "
                        "with broker credentials and a viewer token required)")
    p.add_argument("--mqtt-port", type=int, default=1883, metavar="N", help="embedded broker port (0 = any free)")
    p.add_argument("--password-file", type=Path, metavar="FILE",
                   help="the broker's users (python main.py users add NAME); beyond loopback one is made if absent")
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="certificate for MQTT over TLS (8883) and HTTPS")
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="its private key")
    p.add_argument("--mqtt-tls-port", type=int, default=8883, metavar="N", help="MQTT over TLS port (default 8883)")
    p.add_argument("--broker-impl", choices=["amqtt", "mosquitto"], default="amqtt",
                   help="the embedded broker: amqtt (default, nothing to install) or a mosquitto child process "
                        "(apt-get install mosquitto; for classrooms)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="another host name the viewer answers for (e.g. behind a reverse proxy)")
    p.add_argument("--broker", metavar="HOST:PORT", help="use an external MQTT broker instead of the embedded one")
    p.add_argument("--broker-ca", type=Path, metavar="FILE", help="CA certificate for a TLS broker (AWS IoT Core)")
    p.add_argument("--broker-cert", type=Path, metavar="FILE", help="client certificate for a TLS broker")
    p.add_argument("--broker-key", type=Path, metavar="FILE", help="client private key for a TLS broker")
    p.add_argument("--broker-username", metavar="NAME", help="user name on the external broker (a classroom's)")
    p.add_argument("--broker-password", metavar="PASSWORD",
                   help="its password (or set DEEPLENS_SIM_BROKER_PASSWORD, which keeps it out of the process list)")
    p.add_argument("--http-port", type=int, default=8080, metavar="N", help="web viewer port (0 = any free)")
    p.add_argument("--thing-name", metavar="NAME", help="AWS_IOT_THING_NAME (default: deeplens_<uuid>, stable)")
    p.add_argument("--artifacts", type=Path, metavar="DIR", help="stands in for /opt/awscam/artifacts")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="an environment variable for the Lambda, as Greengrass set them (repeatable)")
    p.add_argument("--rules", action="append", default=[], type=Path, metavar="FILE",
                   help="AWS IoT rules (YAML or JSON, as the AWS CLI prints them) run on the device's topics "
                        "(repeatable; a project's rules.yaml is loaded too)")
    p.add_argument("--cloud", choices=["local", "aws"], default="local",
                   help="where the Lambdas' and rules' boto3 calls go: the simulator's local AWS endpoint "
                        "(default) or real AWS with your own credentials")
    p.add_argument("--cloud-port", type=int, metavar="N",
                   help="port of the local AWS endpoint (default 4566 if free; 0 picks a free one)")
    p.add_argument("--memory-limit", type=float, metavar="MB",
                   help="kill and restart a Lambda whose processes use more (default: the project's, else half "
                        "the profile's memory)")
    p.add_argument("--cpu-threads", type=int, metavar="N",
                   help="OpenVINO CPU threads for the Lambda's inference, left unpinned (default: OpenVINO's own, "
                        "one per core, pinned, or one fewer if the Lambda's loop runs faster so: both are tried "
                        "once it runs, and again when its rate moves); fewer leave cores to other programs")
    p.add_argument("--every-frame", action="store_true",
                   help="a video file (or images) advances one frame each time the Lambda reads one: every frame "
                        "inferred in order, at the Lambda's pace, for repeatable results on a recorded clip")
    p.add_argument("--no-thumbnail", action="store_true",
                   help="publish no thumbnail on deeplens/<thing>/thumbnail (the instructor's fleet page shows it)")
    p.add_argument("--duration", type=seconds, metavar="SECONDS",
                   help="stop cleanly after this many seconds of running (counted once started: the first "
                        "download or conversion of a model comes before)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--version", action="version", version=f"deeplens-simulator {__version__}")
    return p


def _sub_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="main.py")
    sub = p.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"simulator.cli.{SUBCOMMAND_MODULES.get(name, name)}").add_parser(sub)
    return p


def _setup_logging(level: str) -> None:
    """Library chatter (the broker's, asyncio's, aiohttp's) is rate-limited by its template: the same kind of line
    at most once a minute, with a count of those held back, and no tracebacks unless at DEBUG."""
    from simulator.broker.logfilter import RateLimitFilter

    logging.basicConfig(level=getattr(logging, level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")
    noisy = ("amqtt", "transitions", "asyncio", "aiohttp")
    for name in noisy:
        logging.getLogger(name).setLevel(logging.WARNING if level != "DEBUG" else logging.INFO)
    if level != "DEBUG":
        for handler in logging.getLogger().handlers:  # a logger's own filter would miss its children's records
            handler.addFilter(RateLimitFilter(noisy, interval=60))


def main(argv: list[str]) -> int:
    from simulator.inference import lazy_ovc

    lazy_ovc.defer()  # OpenVINO's model-conversion API loads on first use, not with every import of OpenVINO
    try:
        return _main(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CliExit as done:
        return done.status
    except BrokenPipeError:  # the reader went away (``models list --json | head``): no traceback for that
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit has nowhere to go
        return 0


def _main(argv: list[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS:
        if argv[:2] == ["service", "install"]:  # the rest are main.py's own options, passed through as they are
            args, passed = _sub_parser().parse_known_args(argv)
            args.args = [*passed, *args.args]
        else:
            args = _sub_parser().parse_args(argv)
        _setup_logging("WARNING")
        module = importlib.import_module(f"simulator.cli.{SUBCOMMAND_MODULES.get(args.command, args.command)}")
        try:
            return module.run(args)
        except SimulatorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    args = _run_parser().parse_args(argv)
    _setup_logging(args.log_level)
    from pydantic import ValidationError

    from simulator.config import RunConfig, config_error, parse_env

    try:
        try:
            from simulator.profiles.detect import default_profile

            config = RunConfig(project=args.project, source=args.source, profile=args.profile or default_profile(),
                               mqtt_port=args.mqtt_port, broker=args.broker, broker_ca=args.broker_ca,
                               broker_cert=args.broker_cert, broker_key=args.broker_key, http_port=args.http_port,
                               thing_name=args.thing_name, artifacts=args.artifacts, env=parse_env(args.env),
                               rules=args.rules, cloud=args.cloud, cloud_port=args.cloud_port,
                               memory_limit_mb=args.memory_limit, mqtt_host=args.listen, http_host=args.listen,
                               password_file=args.password_file, tls_cert=args.tls_cert, tls_key=args.tls_key,
                               mqtt_tls_port=args.mqtt_tls_port, broker_impl=args.broker_impl,
                               allow_hosts=args.allow_host, broker_username=args.broker_username,
                               broker_password=args.broker_password or os.environ.get("DEEPLENS_SIM_BROKER_PASSWORD"),
                               thumbnail=not args.no_thumbnail, every_frame=args.every_frame,
                               cpu_threads=args.cpu_threads)
        except ValidationError as exc:
            raise config_error(exc) from None
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
    """The GUI's run function, or None (with the reason printed) when a window cannot be opened here."""
    import importlib.util

    from simulator.cli.display import check_display, display_named

    if not display_named(dict(os.environ)):
        print("no display found (DISPLAY/WAYLAND_DISPLAY unset): running headless", file=sys.stderr)
        return None
    if importlib.util.find_spec("PySide6") is None:
        print("the desktop window is not available (PySide6 is not installed): running headless; "
              "install it with: pip install -r requirements-gui.txt", file=sys.stderr)
        return None
    check = check_display()
    if not check.ok:
        print(f"{check.message()}\nrunning headless instead", file=sys.stderr)
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
