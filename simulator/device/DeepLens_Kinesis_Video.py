"""``DeepLens_Kinesis_Video``: the device's Kinesis Video Streams producer, as a Lambda imported it.

The device's API (AWS DeepLens developer guide, "DeepLens_Kinesis_Video Module for Amazon Kinesis Video Streams
Integration")::

    producer = DeepLens_Kinesis_Video.createProducer(aws_access_key, aws_secret_key, session_token, aws_region)
    stream = producer.createStream(stream_name, retention)   # retention: hours (int)
    stream.start()      # send the camera's video to the stream
    stream.isActive     # a property: True while sending
    stream.stop()

On the device the stream carried the camera (the device stream), H.264-encoded by the device. Here, while a stream
is started, the simulated camera is recorded into H.264 MP4 segments of ``DEEPLENS_SIM_KVS_SEGMENT_SECONDS``
(default 10) seconds under ``<artifacts>/kinesis-video/<stream name>/``, named by their UTC start time, at the
camera's rate capped to 15 fps and 1280 px (see :class:`simulator.kvs.recorder.RecorderSettings` for why), on
background threads that never block the Lambda. Segments older than the retention are deleted; ``retention`` 0
means, as in Kinesis Video, that the stream keeps no data: only the service's 5-minute buffer, so segments are
deleted 5 minutes after they end.

With the simulator's local cloud (``DEEPLENS_SIM_CLOUD=local``, ``AWS_ENDPOINT_URL`` in the Lambda's environment)
the stream is created there (Kinesis Video CreateStream if it does not exist) and each finished segment is uploaded
to ``s3://deeplens-sim-kinesis-video/<stream>/<segment>.mp4``: the local cloud does not answer PutMedia, so the
segments are kept where a user sees them in the Cloud panel. With real AWS (``--cloud aws``) the log says that real
Kinesis Video ingestion needs the Kinesis Video Streams producer SDK, which the simulator does not include, and the
stream is recorded locally only. The stream keeps the name it is given (a comment in the guide's example says it
"will appear as deeplens-myStream", but the published projects read their streams back under the name they gave).
The Lambda's stats carry ``kvs_frames`` and ``kvs_dropped``.

``start()`` and ``stop()`` may be called again and again (device Lambdas call ``stop()`` in their loop when not
streaming): a start while started and a stop while stopped do nothing. Creating a stream of a name that exists in
the process returns that stream. Recording needs PyAV (``pip install av==18.1.0``); without it ``start()`` raises
an error that says so.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading

from simulator.ipc import context
from simulator.ipc.process import stats
from simulator.kvs import layout
from simulator.kvs.cloud import Credentials, LocalCloudSink, LocalRecordingOnly, cloud_target
from simulator.kvs.recorder import Recorder, RecorderSettings

log = logging.getLogger("DeepLens_Kinesis_Video")

ENV_SEGMENT_SECONDS = "DEEPLENS_SIM_KVS_SEGMENT_SECONDS"
MAX_RETENTION_HOURS = 87600  # Kinesis Video's limit (10 years)
DEVICE_REGION = "us-east-1"  # the only region the device accepted
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")

_streams: dict[str, Stream] = {}
_streams_lock = threading.Lock()
_counters: dict[str, tuple[int, int]] = {}  # stream -> (frames, dropped), for the Lambda's stats


def _text(name: str, value: object, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        kind = "a string or None" if optional else "a string"
        raise TypeError(f"DeepLens_Kinesis_Video: {name} must be {kind}, got {type(value).__name__} {value!r}")
    return value


def createProducer(aws_access_key, aws_secret_key, session_token, aws_region) -> Producer:
    """A producer client for ``aws_region`` with these credentials (``session_token`` may be ``""`` or None)."""
    access = _text("aws_access_key", aws_access_key)
    secret = _text("aws_secret_key", aws_secret_key)
    token = _text("session_token", session_token, optional=True)
    region = _text("aws_region", aws_region)
    if not _REGION.match(region):
        raise ValueError(f"DeepLens_Kinesis_Video.createProducer: {region!r} is not an AWS region "
                         f"(the device used {DEVICE_REGION!r})")
    if region != DEVICE_REGION:
        log.warning("createProducer: region %s; on the device only %s was accepted", region, DEVICE_REGION)
    if not access or not secret:
        log.warning("createProducer: empty access or secret key; the device's streams would be refused by AWS "
                    "(the simulator uses the Lambda's environment credentials for its local cloud)")
    return Producer(Credentials(access, secret, token, region))


class Producer:
    """The Kinesis Video Streams producer client: makes streams."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def __repr__(self) -> str:
        return f"<DeepLens_Kinesis_Video.Producer region={self._credentials.region}>"

    def createStream(self, stream_name, retention) -> Stream:
        """The stream ``stream_name`` (created in the cloud if it does not exist), keeping ``retention`` hours."""
        name = layout.validate_stream_name(stream_name)
        if isinstance(retention, bool) or not isinstance(retention, int):
            raise TypeError(f"DeepLens_Kinesis_Video.createStream: retention must be an int (hours), "
                            f"got {type(retention).__name__} {retention!r}")
        if not 0 <= retention <= MAX_RETENTION_HOURS:
            raise ValueError(f"DeepLens_Kinesis_Video.createStream: retention must be from 0 to "
                             f"{MAX_RETENTION_HOURS} hours, got {retention}")
        with _streams_lock:
            existing = _streams.get(name)
            if existing is not None:
                if existing.retention != retention:
                    log.info("stream %s exists in this Lambda with retention %d h; %d h is ignored",
                             name, existing.retention, retention)
                return existing
            stream = Stream(name, retention, self._credentials)
            _streams[name] = stream
            return stream


class Stream:
    """A Kinesis video stream fed with the device's camera while started."""

    def __init__(self, name: str, retention: int, credentials: Credentials) -> None:
        ctx = context.current()
        self.name = name
        self.retention = retention
        self._lock = threading.Lock()
        folder = layout.stream_folder(ctx.artifacts, name)
        settings = RecorderSettings(retention_hours=retention, segment_seconds=_segment_seconds())
        sink: LocalCloudSink | LocalRecordingOnly
        if cloud_target(os.environ) == "local":
            cloud = LocalCloudSink(name, folder, retention, credentials, os.environ["AWS_ENDPOINT_URL"],
                                   device_name=ctx.thing_name)
            sink = cloud
        else:
            cloud, sink = None, LocalRecordingOnly(name, folder)
        self._sink = sink
        self._recorder = Recorder(name, ctx.frames_path, folder, settings, sink=sink, on_status=self._on_status)
        if cloud is not None:
            cloud.on_change = self._recorder.refresh_status
            cloud.begin()  # create the stream there, upload what an earlier run left

    def __repr__(self) -> str:
        return f"<DeepLens_Kinesis_Video.Stream {self.name!r} {'active' if self.isActive else 'stopped'}>"

    @property
    def isActive(self) -> bool:
        """True while the camera is being sent to (recorded into) this stream."""
        return self._recorder.active

    def start(self) -> None:
        """Start sending the camera to the stream (nothing happens if it is already started)."""
        with self._lock:
            try:
                self._recorder.start()
            except FileNotFoundError as exc:
                raise RuntimeError(f"DeepLens_Kinesis_Video: stream {self.name}: the camera's frames are not "
                                   f"available ({exc.filename}); is the simulated device running?") from None

    def stop(self) -> None:
        """Stop sending; the segment being written is finished (nothing happens if the stream is stopped)."""
        with self._lock:
            self._recorder.stop()

    def _on_status(self, status: layout.RecorderStatus) -> None:
        _counters[self.name] = (status.frames, status.dropped)
        stats().update(kvs_frames=sum(f for f, _ in _counters.values()),
                       kvs_dropped=sum(d for _, d in _counters.values()))

    def _close(self, timeout: float) -> None:
        self._recorder.close(timeout)
        self._sink.close(timeout)


def _segment_seconds() -> float:
    raw = os.environ.get(ENV_SEGMENT_SECONDS, "")
    if not raw:
        return RecorderSettings.segment_seconds
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{ENV_SEGMENT_SECONDS} must be a number of seconds, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{ENV_SEGMENT_SECONDS} must be at least 1 second, got {raw!r}")
    return value


def stop_all(timeout: float = 5.0) -> None:
    """Stop every stream of this process, finish its segments and its queued uploads, waiting at most about
    ``timeout`` s for each (at interpreter exit, or before the simulator ends the Lambda process)."""
    with _streams_lock:
        streams = list(_streams.values())
        _streams.clear()
        _counters.clear()
    for stream in streams:
        try:
            stream._close(timeout)
        except Exception:  # noqa: BLE001 - every stream gets its chance to finish
            log.exception("stream %s could not be finished", stream.name)


atexit.register(stop_all)
