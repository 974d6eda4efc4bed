"""LocalCloud: the local AWS endpoint the simulator starts so unmodified Lambdas' boto3 calls succeed offline."""

from __future__ import annotations

import errno
import functools
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PortInUseError, SimulatorError
from .activity import Activity
from .clients import ACCESS_KEY_ID, SECRET_ACCESS_KEY, Clients
from .snapshot import CloudSnapshot

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

    from .gateway import Gateway
    from .rekognition import Rekognition

log = logging.getLogger(__name__)

# Variables a Lambda must not inherit from the user's shell: they would point boto3 at real AWS credentials.
_DROPPED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")
OWN_SERVICES = ("REKOGNITION", "POLLY")   # answered by the simulator itself (AWS_ENDPOINT_URL_<SERVICE>)

_running_lock = threading.Lock()
_running: LocalCloud | None = None        # moto keeps its state per process: one local cloud at a time


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(f"the local cloud's port {port} on {host} is in use",
                                 hint="choose another with --cloud-port N (0 picks a free one)") from exc
        raise SimulatorError(f"the local cloud cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


@functools.cache
def _moto_app():
    """moto's WSGI app (its services' apps are built on first use; shared, like moto's state, by the process)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


class LocalCloud:
    """A local AWS endpoint: moto for S3, DynamoDB, SQS, SNS, Kinesis, IoT data, ...; the simulator's own
    Rekognition and Polly; missing resources created on first use; state loaded from and saved to
    ``state_dir``. Use ``start()``/``stop()`` (or ``with``).

    ``start(lazy=True)`` only binds the port: moto (about 130 MB and 3 s to load) is loaded when the first
    client connects, or when the simulator itself asks (``snapshot()``, ``client()``), so a project that
    never calls AWS costs nothing. The first call waits for it; boto3's timeouts are far longer."""

    def __init__(self, state_dir: Path, host: str = "127.0.0.1", port: int = 0, region: str = "us-east-1") -> None:
        self.state_dir = Path(state_dir)
        self.host = host
        self.region = region
        self._requested_port = port
        self._port: int | None = None
        self._server: BaseWSGIServer | None = None
        self._gateway: Gateway | None = None
        self._thread: threading.Thread | None = None
        self._clients: Clients | None = None
        self._activity = Activity(self.state_dir / "sns" / "messages.jsonl")
        self._rekognition: Rekognition | None = None
        self._save_lock = threading.Lock()
        self._boot_lock = threading.RLock()  # loading the saved state uses the cloud's own clients
        self._booting = False
        self._sock: socket.socket | None = None
        self._waiter: threading.Thread | None = None
        self._stopping = threading.Event()
        self.booted = False

    # --- lifecycle ------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None or self._sock is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise SimulatorError("the local cloud is not started")
        return self._port

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def account_id(self) -> str:
        from moto.core import DEFAULT_ACCOUNT_ID

        return DEFAULT_ACCOUNT_ID

    def start(self, lazy: bool = False) -> LocalCloud:
        """Listen (and, unless ``lazy``, load moto and the saved state now). PortInUseError when the port is taken."""
        global _running
        with _running_lock:
            if _running is not None:
                raise SimulatorError(f"a local cloud is already running in this process ({_running.endpoint})",
                                     hint="share that one: moto keeps one state per process")
            self._sock = _bind(self.host, self._requested_port)
            self._port = self._sock.getsockname()[1]
            _running = self
        self._stopping.clear()
        if lazy:
            self._waiter = threading.Thread(target=self._boot_on_first_connection, name="local-cloud-gate",
                                            daemon=True)
            self._waiter.start()
            log.info("local cloud at %s (region %s; it loads at the first AWS call)", self.endpoint, self.region)
        else:
            self.ensure_booted()
        return self

    def _boot_on_first_connection(self) -> None:
        import select

        sock = self._sock
        while sock is not None and not self._stopping.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], 0.2)
            except (OSError, ValueError):
                return
            if readable:
                try:
                    self.ensure_booted()
                except Exception:  # noqa: BLE001 - said once; the next call sees the closed port
                    log.exception("the local cloud could not start")
                return

    def ensure_booted(self) -> None:
        """Load moto, serve on the bound port, load the saved state (once)."""
        with self._boot_lock:
            if self.booted or self._booting or self._sock is None:
                return
            sock = self._sock
            self._booting = True
            try:
                self._reset_moto()
                gateway = self._serve(sock)  # answers only the cloud's own clients until opened
                self._clients = Clients(self.endpoint, self.region)
                self.state_dir.mkdir(parents=True, exist_ok=True)
                from .persist import load_state

                load_state(self)
            except BaseException:
                self._shutdown()
                raise
            finally:
                self._booting = False
                sock.close()
                self._sock = None
            self.booted = True
            gateway.open()
        log.info("local cloud serving at %s (region %s, state in %s)", self.endpoint, self.region, self.state_dir)

    def _serve(self, sock: socket.socket) -> Gateway:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        from .gateway import Gateway
        from .polly import Polly
        from .rekognition import Rekognition

        class QuietHandler(MotoRequestHandler):
            def log_request(self, code="-", size="-"):
                log.debug("%s %s -> %s", self.command, self.path, code)

        self._rekognition = Rekognition(self.state_dir / "rekognition", self.region, self.get_object_version)
        app = self._gateway = Gateway(_moto_app(), self.region, self._activity,
                                      own={"rekognition": self._rekognition.handle, "polly": Polly().handle})
        self._server = make_server(self.host, sock.getsockname()[1], app, threaded=True,
                                   request_handler=QuietHandler, fd=sock.fileno())
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="local-cloud", daemon=True)
        self._thread.start()
        return app

    def _reset_moto(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    def save(self) -> None:
        """Write everything the cloud holds to ``state_dir`` now (``stop()`` does it too)."""
        from .persist import save_state

        with self._save_lock:
            save_state(self)

    def stop(self) -> None:
        """Save the state, then stop listening. Safe to call twice."""
        self._stopping.set()
        if self._waiter is not None:
            self._waiter.join(timeout=10)
            self._waiter = None
        with self._boot_lock:
            if self._sock is not None:  # never booted: nothing to save
                self._sock.close()
                self._sock = None
                self._shutdown()
                return
        if self._server is None:
            return
        try:
            self.save()
        except Exception:  # the endpoint must still stop; say exactly what could not be saved
            log.exception("the local cloud could not save its state to %s", self.state_dir)
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        global _running
        gateway, self._gateway = self._gateway, None
        if gateway is not None:  # a caller still waiting for the boot gets its answer
            gateway.open(failed=not self.booted)
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._clients is not None:
            self._clients.close()
            self._clients = None
        with _running_lock:
            if _running is self:
                if self.booted:
                    self._reset_moto()
                _running = None
        self.booted = False

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- for Lambdas and rule actions -----------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The variables every Lambda process and rule action needs to reach this cloud (pass them explicitly;
        they are never put into this process's own environment)."""
        values = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
            "DEEPLENS_SIM_CLOUD": "local",
        }
        values.update({f"AWS_ENDPOINT_URL_{service}": self.endpoint for service in OWN_SERVICES})
        return values

    def lambda_environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) without the user's AWS profile and session
        variables, plus :meth:`env` — the whole environment for a Lambda process."""
        environ = {k: v for k, v in (os.environ if base is None else base).items()
                   if k not in _DROPPED and not k.startswith("AWS_ENDPOINT_URL")}
        environ.update(self.env())
        return environ

    def on_iot_publish(self, callback: Callable[[str, bytes, int], None] | None) -> None:
        """Call ``callback(topic, payload, qos)`` for every ``iot-data`` Publish a Lambda makes through boto3
        (moto only accepts them): the core hands them to the MQTT broker."""
        self._activity.iot_publish = callback

    def client(self, service: str, region: str | None = None):
        """A boto3 client of this cloud for the simulator's own use (rule actions, viewers)."""
        self.ensure_booted()
        if self._clients is None:
            raise SimulatorError("the local cloud is not started")
        return self._clients.get(service, region)

    # --- what it holds --------------------------------------------------------------------------------

    def get_object(self, bucket: str, key: str) -> bytes:
        """The bytes of an S3 object (for image previews)."""
        return self.get_object_version(bucket, key, None)

    def get_object_version(self, bucket: str, key: str, version: str | None) -> bytes:
        extra = {"VersionId": version} if version else {}
        return self.client("s3").get_object(Bucket=bucket, Key=key, **extra)["Body"].read()

    def snapshot(self, max_objects: int = 100, max_items: int = 50) -> CloudSnapshot:
        """Buckets, tables, topics, queues and face collections, bounded per container."""
        from .inventory import take_snapshot

        self.ensure_booted()
        return take_snapshot(self, max_objects=max_objects, max_items=max_items)

    @property
    def activity(self) -> Activity:
        return self._activity

    @property
    def rekognition(self) -> Rekognition | None:
        return self._rekognition
