"""Where a stream's finished segments go beyond the local folder.

With the simulator's local cloud (``DEEPLENS_SIM_CLOUD=local`` and ``AWS_ENDPOINT_URL`` in the Lambda's
environment), the stream is created there (Kinesis Video ``CreateStream`` if it does not exist: the local cloud
answers stream management) and each finished segment is uploaded to the local S3 as
``s3://deeplens-sim-kinesis-video/<stream>/<segment>.mp4``. The local cloud does not answer Kinesis Video media
calls (PutMedia, GetMedia, HLS), so the segments are kept where a user sees them: the Cloud panel lists the bucket.
Segments deleted for retention are deleted there too.

With real AWS there is nothing to upload to: real Kinesis Video ingestion needs the Kinesis Video Streams producer
SDK, which the simulator does not include. That is said once in the log and the stream is recorded locally only.

All cloud calls run on one background thread; nothing here blocks the Lambda.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from simulator.kvs import layout

log = logging.getLogger(__name__)

BUCKET = "deeplens-sim-kinesis-video"
MEDIA_TYPE = "video/h264"
MAX_TASKS = 1024
_DONE = ("done", None)


@dataclass(frozen=True)
class Credentials:
    """The keys the Lambda gave ``createProducer`` (empty ones fall back to the environment's)."""

    access_key: str | None
    secret_key: str | None
    session_token: str | None
    region: str


def cloud_target(environ: Mapping[str, str]) -> layout.CloudTarget:
    """``local`` when the Lambda's AWS calls go to the simulator's local cloud, else ``aws``."""
    return "local" if environ.get("DEEPLENS_SIM_CLOUD") == "local" and environ.get("AWS_ENDPOINT_URL") else "aws"


def object_key(stream: str, segment: Path) -> str:
    return f"{stream}/{segment.name}"


class LocalRecordingOnly:
    """The sink with real AWS: says once why nothing is uploaded."""

    def __init__(self, stream: str, folder: Path) -> None:
        log.warning("Kinesis Video stream %s: real Kinesis Video ingestion needs the Kinesis Video Streams producer "
                    "SDK, which the simulator does not include; the stream is recorded locally in %s", stream, folder)

    def segment_done(self, path: Path) -> None: ...
    def segment_expired(self, path: Path) -> None: ...
    def close(self, timeout: float = 5.0) -> None: ...

    def status(self) -> layout.SinkStatus:
        return layout.SinkStatus(target="aws")


class LocalCloudSink:
    """Creates the stream in the local cloud and uploads finished segments to its S3, on one worker thread.

    ``begin()`` queues the stream's creation and the upload of finished segments the bucket does not have yet
    (those of a Lambda process that was stopped before it could upload them). ``on_change`` is called after each
    upload or error (the recorder writes its status file again)."""

    def __init__(self, stream: str, folder: Path, retention_hours: int, credentials: Credentials, endpoint: str,
                 device_name: str | None = None) -> None:
        self.stream = stream
        self.folder = folder
        self.retention_hours = retention_hours
        self.credentials = credentials
        self.endpoint = endpoint
        self.device_name = device_name
        self._tasks: queue.Queue = queue.Queue(maxsize=MAX_TASKS)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stream_created = False
        self._uploaded = self._errors = 0
        self._last_error: str | None = None
        self._bucket_ready = False
        self._sent: dict[str, tuple[int, int]] = {}  # segment -> (size, mtime) uploaded (worker thread only)
        self.on_change: Callable[[], None] | None = None

    # --- what the recorder and the device module call --------------------------------------------------

    def begin(self) -> None:
        self._submit(("stream", None))
        self._submit(("catch_up", None))

    def segment_done(self, path: Path) -> None:
        self._submit(("put", path))

    def segment_expired(self, path: Path) -> None:
        self._submit(("delete", path))

    def status(self) -> layout.SinkStatus:
        with self._lock:
            return layout.SinkStatus(target="local", stream_created=self._stream_created, uploaded=self._uploaded,
                                     errors=self._errors, last_error=self._last_error)

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued uploads (waiting at most ``timeout`` s) and end the worker."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        try:
            self._tasks.put(_DONE, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)

    # --- the worker -------------------------------------------------------------------------------------

    def _submit(self, task: tuple[str, Path | None]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name=f"kvs-{self.stream}-cloud", daemon=True)
                self._thread.start()
        try:
            self._tasks.put_nowait(task)
        except queue.Full:
            self._note_error(f"too many uploads waiting; {task[1]} is kept locally only")

    def _work(self) -> None:
        clients: dict[str, object] = {}
        while True:
            kind, path = self._tasks.get()
            if kind == "done":
                return
            try:
                if kind == "stream":
                    self._create_stream(self._client(clients, "kinesisvideo"))
                elif kind == "catch_up":
                    self._catch_up(self._client(clients, "s3"))
                elif kind == "put" and path is not None:
                    self._put(self._client(clients, "s3"), path)
                elif kind == "delete" and path is not None:
                    self._client(clients, "s3").delete_object(Bucket=BUCKET, Key=object_key(self.stream, path))
            except Exception as exc:  # noqa: BLE001 - botocore's errors: counted, said, the recording goes on
                self._note_error(f"{kind} {path.name if path else self.stream}: {exc}")
            self._changed()

    def _changed(self) -> None:
        try:
            if self.on_change is not None:
                self.on_change()
        except Exception:  # noqa: BLE001 - a status that cannot be written must not stop the uploads
            log.debug("Kinesis Video stream %s: status update failed", self.stream, exc_info=True)

    def _client(self, clients: dict[str, object], service: str):
        if service not in clients:
            import boto3
            from botocore.config import Config

            c = self.credentials
            session = boto3.session.Session(aws_access_key_id=c.access_key or None,
                                            aws_secret_access_key=c.secret_key or None,
                                            aws_session_token=c.session_token or None, region_name=c.region)
            config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})
            clients[service] = session.client(service, endpoint_url=self.endpoint, config=config)
        return clients[service]

    def _create_stream(self, kvs) -> None:
        try:
            kvs.describe_stream(StreamName=self.stream)
        except kvs.exceptions.ResourceNotFoundException:
            extra = {"DeviceName": self.device_name} if self.device_name else {}
            kvs.create_stream(StreamName=self.stream, DataRetentionInHours=self.retention_hours,
                              MediaType=MEDIA_TYPE, **extra)
            log.info("Kinesis Video stream %s created in the local cloud (retention %d h); its segments go to "
                     "s3://%s/%s/ (the local cloud does not answer PutMedia)", self.stream, self.retention_hours,
                     BUCKET, self.stream)
        with self._lock:
            self._stream_created = True

    def _ensure_bucket(self, s3) -> None:
        if self._bucket_ready:
            return
        try:
            s3.head_bucket(Bucket=BUCKET)
        except Exception:  # noqa: BLE001 - botocore's 404 ClientError: the bucket is not there yet
            region = self.credentials.region
            extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            try:
                s3.create_bucket(Bucket=BUCKET, **extra)
            except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
                pass
        self._bucket_ready = True

    def _catch_up(self, s3) -> None:
        self._ensure_bucket(s3)
        have: set[str] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{self.stream}/"):
            have.update(o["Key"] for o in page.get("Contents", []))
        growing = layout.growing_segments(self.folder)
        for path in layout.segment_files(self.folder):
            if path.name not in growing and object_key(self.stream, path) not in have:
                self._put(s3, path)

    def _put(self, s3, path: Path) -> None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return  # deleted for retention meanwhile
        version = (st.st_size, st.st_mtime_ns)
        if self._sent.get(path.name) == version:
            return  # the catch-up and the recorder both named it
        self._ensure_bucket(s3)
        try:
            with path.open("rb") as body:
                s3.put_object(Bucket=BUCKET, Key=object_key(self.stream, path), Body=body, ContentType="video/mp4")
        except FileNotFoundError:
            return
        self._sent[path.name] = version
        with self._lock:
            self._uploaded += 1
        log.debug("Kinesis Video stream %s: %s uploaded to s3://%s/%s", self.stream, path.name, BUCKET,
                  object_key(self.stream, path))

    def _note_error(self, message: str) -> None:
        with self._lock:
            self._errors += 1
            first = self._errors == 1
            self._last_error = message
        if first or self._errors % 100 == 0:
            log.warning("Kinesis Video stream %s: the local cloud refused an upload (%d so far): %s",
                        self.stream, self._errors, message)
