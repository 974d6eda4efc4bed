"""``python main.py fleet --devices N [--source SPEC ...] [--project P] [--profile P] [--thing-prefix NAME]
[--duration S] [--http-port N] [--mqtt-port N]``: a classroom of simulated devices on this machine.

Prints each device's viewer, the fleet page and, every few seconds, how many devices keep up with their
profile's rate and how many this machine sustains. Ctrl-C or ``--duration`` stops everything (exit code 0).

``python main.py fleet --watch HOST:PORT [--broker-ca F [--broker-cert F --broker-key F]] [--username U]``
starts no device: it serves the fleet page for every device seen on that broker (students' simulators, a
mosquitto, AWS IoT Core). The password of ``--username`` is read from ``DEEPLENS_SIM_BROKER_PASSWORD``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from simulator.cli.args import seconds
from simulator.config import parse_env
from simulator.errors import SimulatorError

log = logging.getLogger(__name__)

REPORT_EVERY = 10.0
PASSWORD_ENV = "DEEPLENS_SIM_BROKER_PASSWORD"


def add_parser(subparsers) -> None:
    """Add the ``fleet`` subcommand to an argparse sub-parser collection."""
    p = subparsers.add_parser(
        "fleet", help="run several simulated devices on this machine, with the instructor's fleet page",
        description="N simulated devices in one process, each with its own thing name, camera, Lambda and "
                    "project stream, on one broker (the first device's), with one web viewer each and the fleet "
                    "page /fleet. Devices that play the same file share one decoder.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--devices", type=int, metavar="N", help="how many devices")
    what.add_argument("--watch", metavar="HOST:PORT", help="start no device: show every device seen on this broker")
    p.add_argument("--broker-ca", type=Path, metavar="FILE", help="--watch: CA certificate of a TLS broker")
    p.add_argument("--broker-cert", type=Path, metavar="FILE", help="--watch: client certificate (AWS IoT Core)")
    p.add_argument("--broker-key", type=Path, metavar="FILE", help="--watch: client private key (AWS IoT Core)")
    p.add_argument("--username", metavar="NAME", help=f"--watch: broker user name (password from {PASSWORD_ENV})")
    p.add_argument("--source", action="append", default=[], metavar="SPEC",
                   help="a camera source as for the simulator (repeatable: cycled over the devices)")
    p.add_argument("--project", metavar="NAME|DIR|FILE.py", help="the project every device runs")
    p.add_argument("--profile", default="host", metavar="NAME|FILE.yaml", help="hardware profile (default: host)")
    p.add_argument("--thing-prefix", default="student", metavar="NAME",
                   help="thing names are NAME-01, NAME-02, … (default: student)")
    p.add_argument("--artifacts", type=Path, metavar="DIR", help="stands in for /opt/awscam/artifacts")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="an environment variable for every Lambda (repeatable)")
    p.add_argument("--http-port", type=int, default=8080, metavar="N",
                   help="the fleet page's port; device i's viewer is on N+i (default 8080; 0 picks free ones)")
    p.add_argument("--listen", default="127.0.0.1", metavar="ADDR",
                   help="where the fleet's broker and viewers listen (default 127.0.0.1; 0.0.0.0: every interface, "
                        "with broker credentials and a viewer token required: the printed URLs carry the token)")
    p.add_argument("--password-file", type=Path, metavar="FILE",
                   help="the fleet broker's users (python main.py users add NAME); beyond loopback one is made if "
                        "absent")
    p.add_argument("--mqtt-port", type=int, default=1883, metavar="N", help="the shared broker's port (0 = any)")
    p.add_argument("--no-thumbnail", action="store_true", help="publish no thumbnails")
    p.add_argument("--cpu-threads", type=int, metavar="N",
                   help="OpenVINO CPU threads per Lambda, unpinned (default: the physical cores divided among the "
                        "devices, at least one; 0: what a single run does, OpenVINO's default, a thread per core, "
                        "pinned, or one fewer where the Lambda's loop runs faster so)")
    p.add_argument("--baseline-seconds", type=float, default=5.0, metavar="S",
                   help="host profile: how long the first device runs alone to measure the rate the others are "
                        "held to (default 5; 0 judges none)")
    p.add_argument("--duration", type=seconds, metavar="SECONDS", help="stop cleanly after this many seconds")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def _say(text: str) -> None:
    print(text, flush=True)


class _Until:
    """Ctrl-C, SIGTERM or ``--duration``, whichever comes first; ``tick()`` every ``REPORT_EVERY`` seconds."""

    def __init__(self, duration: float | None) -> None:
        if duration is not None and duration < 0:
            raise SimulatorError(f"--duration {duration:g}: must be 0 or more seconds")
        self.duration = duration
        self.stop = threading.Event()
        self._previous: dict = {}

    def __enter__(self) -> _Until:
        self._previous = {s: signal.signal(s, lambda *_: self.stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def run(self, tick) -> None:
        deadline = None if self.duration is None else time.monotonic() + self.duration
        next_report = time.monotonic() + REPORT_EVERY
        while not self.stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if now >= next_report:
                next_report = now + REPORT_EVERY
                tick()
            self.stop.wait(max(0.0, min(next_report, deadline or next_report) - now))


def run(args: argparse.Namespace) -> int:
    """Run the fleet (or watch a broker) until Ctrl-C or ``--duration``; errors raise SimulatorError."""
    logging.getLogger().setLevel(getattr(logging, args.log_level))
    if args.watch is not None:
        if args.password_file is not None:
            raise SimulatorError("--password-file is for the broker of a fleet (--devices N)",
                                 hint="with --watch, give the watched broker's --username")
        return _watch(args)
    if any((args.broker_ca, args.broker_cert, args.broker_key, args.username)):
        raise SimulatorError("--broker-ca/--broker-cert/--broker-key/--username are for --watch",
                             hint="the devices of a fleet use the first device's embedded broker")
    return _fleet(args)


def _watch(args: argparse.Namespace) -> int:
    from simulator.config import parse_host_port
    from simulator.fleet.server import FleetServer
    from simulator.fleet.watcher import FleetWatcher
    from simulator.ipc.mqtt import TlsFiles

    try:
        host, port = parse_host_port(args.watch)
    except ValueError as exc:
        raise SimulatorError(f"--watch {args.watch!r}: {exc}") from None
    for flag, path in (("--broker-ca", args.broker_ca), ("--broker-cert", args.broker_cert),
                       ("--broker-key", args.broker_key)):
        if path is not None and not path.is_file():
            raise SimulatorError(f"{flag}: no such file: {path}")
    if (args.broker_cert is None) != (args.broker_key is None):
        raise SimulatorError("--broker-cert and --broker-key go together")
    tls = TlsFiles(ca=str(args.broker_ca) if args.broker_ca else None,
                   cert=str(args.broker_cert) if args.broker_cert else None,
                   key=str(args.broker_key) if args.broker_key else None) \
        if args.broker_ca or args.broker_cert else None
    password = os.environ.get(PASSWORD_ENV) if args.username else None
    until = _Until(args.duration)
    watcher = FleetWatcher(host=host, port=port, tls=tls, username=args.username, password=password).start()
    server = None
    try:
        server = FleetServer(watcher, args.listen, args.http_port).start()
        _say(f"DeepLens fleet: watching {host}:{port}")
        _say(f"  fleet page: {server.url}")
        with until:
            until.run(lambda: _say(f"  {_summary(watcher.snapshot())}"))
        _say(f"  {_summary(watcher.snapshot())}")
    finally:
        if server is not None:
            server.stop()
        watcher.stop()
    return 0


def _summary(snap) -> str:
    text = f"{len(snap.things)} thing(s), {snap.online} online"
    if snap.judged:
        text += f", {snap.behind} of {snap.judged} falling behind"
    return text


def _fleet(args: argparse.Namespace) -> int:
    from simulator.fleet.runner import Fleet, check_options

    options = check_options(
        devices=args.devices, sources=args.source, project=args.project, profile=args.profile,
        thing_prefix=args.thing_prefix, artifacts=args.artifacts, listen=args.listen,
        password_file=args.password_file, http_port=args.http_port,
        mqtt_port=args.mqtt_port, thumbnails=not args.no_thumbnail, baseline_seconds=args.baseline_seconds,
        env=parse_env(args.env), cpu_threads=args.cpu_threads)
    until = _Until(args.duration)
    fleet = Fleet(options, say=_say)
    _say(f"DeepLens fleet: {options.devices} device(s), profile {options.profile}")
    threads = options.threads_per_device()
    _say(f"  OpenVINO CPU threads per Lambda: {threads} (unpinned; --cpu-threads N)" if threads is not None else
         "  OpenVINO CPU threads per Lambda: OpenVINO's default (a thread per core, pinned), or one fewer where "
         "the Lambda's loop runs faster so")
    try:
        fleet.start(on_device=lambda d, v: _say(f"  {d.thing_name}: {v.url}  ({d.source_description})"))
        first = fleet.devices[0]
        assert fleet.server is not None
        _say(f"  fleet page: {fleet.server.url}")
        if first.mqtt_host in ("0.0.0.0", "::", ""):
            _say(f"  MQTT:       {first.mqtt_host}:{first.mqtt_port} (students: --broker <this machine's address>:"
                 f"{first.mqtt_port} --broker-username NAME; add users with: python main.py users add NAME)")
        else:
            _say(f"  MQTT:       {first.mqtt_host}:{first.mqtt_port} (students: --broker {first.mqtt_host}:"
                 f"{first.mqtt_port})")
        for s in fleet.sources.fanouts.values():
            _say(f"  source {s.description}: one decoder for {s.clients} device(s)")
        with until:
            until.run(lambda: _say(f"  capacity: {fleet.capacity().describe()}"))
        _say(f"  capacity: {fleet.capacity().describe()}")
    except KeyboardInterrupt:
        return 130
    finally:
        fleet.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m simulator.cli.fleet ...`` (the same as ``main.py fleet ...``)."""
    parser = argparse.ArgumentParser(prog="main.py")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["fleet", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        return run(args)
    except SimulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
