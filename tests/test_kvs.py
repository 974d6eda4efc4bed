"""``DeepLens_Kinesis_Video`` as a Lambda uses it: the device's API and its errors in-process, then a device-style
Lambda in its own process (started as the host starts one) recording the camera from a real frame slot into H.264
MP4 segments, with and without the local cloud."""

from __future__ import annotations

import json
import os
import time

import pytest

from simulator.ipc import context
from simulator.ipc import process as lambda_process
from simulator.ipc.project_stream import CAPACITY as PROJECT_CAPACITY
from simulator.ipc.slot import SharedSlot
from simulator.ipc.stats import StatsReader
from simulator.kvs import catalog, layout
from tests.lambdas.kvs.support import LAMBDA, Camera, LambdaProcess, device_context, probe


@pytest.fixture
def dkv(tmp_path, monkeypatch):
    """The module as a Lambda process sees it: a device context, a camera writing 1920x1080 frames at 30 fps."""
    camera = Camera(tmp_path, size=(1920, 1080)).start()
    ctx = device_context(tmp_path, tmp_path / "artifacts")
    for key, value in ctx.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DEEPLENS_SIM_KVS_SEGMENT_SECONDS", "1")
    monkeypatch.delenv("DEEPLENS_SIM_CLOUD", raising=False)
    context.current.cache_clear()
    lambda_process.stats.cache_clear()
    from simulator.device import DeepLens_Kinesis_Video

    yield DeepLens_Kinesis_Video, ctx
    DeepLens_Kinesis_Video.stop_all()
    camera.stop()
    context.current.cache_clear()
    lambda_process.stats.cache_clear()


def test_the_device_api_accepts_what_the_device_did_and_says_what_is_wrong(dkv):
    module, _ = dkv
    with pytest.raises(TypeError, match="aws_access_key must be a string, got NoneType"):
        module.createProducer(None, "secret", "", "us-east-1")  # botocore found no credentials
    with pytest.raises(TypeError, match="session_token must be a string or None, got int"):
        module.createProducer("key", "secret", 5, "us-east-1")
    with pytest.raises(ValueError, match="'east' is not an AWS region"):
        module.createProducer("key", "secret", "", "east")
    with pytest.raises(TypeError):
        module.createProducer("key", "secret", "us-east-1")  # the token is positional and required
    producer = module.createProducer("key", "secret", None, "us-east-1")
    assert module.createProducer(aws_access_key="k", aws_secret_key="s", session_token="t", aws_region="us-east-1")
    with pytest.raises(ValueError, match="invalid Kinesis Video stream name 'my stream'"):
        producer.createStream("my stream", 2)
    with pytest.raises(ValueError, match="invalid Kinesis Video stream name '..'"):
        producer.createStream("..", 2)
    with pytest.raises(TypeError, match=r"retention must be an int \(hours\), got str '2'"):
        producer.createStream("myStream", "2")
    with pytest.raises(TypeError, match="retention must be an int"):
        producer.createStream("myStream", 1.5)
    with pytest.raises(ValueError, match="retention must be from 0 to 87600 hours, got -1"):
        producer.createStream("myStream", -1)
    stream = producer.createStream("myStream", 2)
    assert producer.createStream(stream_name="myStream", retention=2) is stream  # one stream per name
    assert stream.isActive is False  # a property, as documented
    stream.stop()  # stopping a stopped stream does nothing (device Lambdas do it in their loop)
    with pytest.raises(TypeError):
        stream.start(True)
    assert catalog.segments(dkv[1].artifacts, "myStream") == []  # nothing is recorded before start()


def test_outside_the_simulator_creating_a_stream_says_so(monkeypatch):
    monkeypatch.delenv(context.ENV_CONTEXT, raising=False)
    context.current.cache_clear()
    from simulator.device import DeepLens_Kinesis_Video

    producer = DeepLens_Kinesis_Video.createProducer("key", "secret", "", "us-east-1")
    with pytest.raises(context.NotInSimulatorError, match="not running inside the DeepLens simulator"):
        producer.createStream("elsewhere", 2)
    context.current.cache_clear()


def test_a_started_stream_records_the_camera_as_h264_segments(dkv):
    module, ctx = dkv
    stream = module.createProducer("key", "secret", "", "us-east-1").createStream("myStream", 2)
    stream.start()
    stream.start()  # already started: nothing more
    assert stream.isActive
    folder = layout.stream_folder(ctx.artifacts, "myStream")
    deadline = time.monotonic() + 30
    while len(layout.segment_files(folder)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert catalog.streams(ctx.artifacts)[0].recording
    stream.stop()
    assert not stream.isActive
    info = catalog.streams(ctx.artifacts)[0]
    segs = catalog.segments(ctx.artifacts, "myStream")
    assert len(segs) >= 3 and not info.recording and not any(s.recording for s in segs)
    probes = [probe(s.path) for s in segs]
    assert {(p.codec, p.width, p.height) for p in probes} == {("h264", 1280, 720)}  # 1920x1080 capped to 1280
    # stop() finished the files: every frame the encoder took is in them
    assert sum(p.frames for p in probes) == info.frames > 0
    for p in probes[:-1]:
        assert p.seconds[-1] < 1.2  # 1 s segments (the frame that reaches 1 s closes one)
    for p in probes:
        if p.frames >= 8:  # the camera's 30 fps is capped at 15 fps, by the frames' own timestamps
            assert (p.frames - 1) / (p.seconds[-1] - p.seconds[0]) <= 15 * 1.15
    names = [s.name for s in segs]
    assert names == sorted(names) and all(layout.segment_start(n) for n in names)


# --- a device Lambda in its own process ---------------------------------------------------------------------

@pytest.fixture
def lambda_run(tmp_path, subscribe):
    """Start the device-style Lambda with a broker, a 640x360 camera and a stats slot; yields a starter."""
    from simulator.broker.embedded import EmbeddedBroker

    broker = EmbeddedBroker("127.0.0.1", 0).start()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    camera = Camera(run_dir).start()
    stats = StatsReader.create(run_dir / context.STATS_FILE)
    project = SharedSlot.create(run_dir / context.PROJECT_FILE, PROJECT_CAPACITY)
    ctx = device_context(run_dir, tmp_path / "artifacts", broker.port, LAMBDA)
    sub = subscribe(broker.port, "$aws/things/+/infer")
    started: list[LambdaProcess] = []

    def start(**env: str) -> LambdaProcess:
        settings = {"DEEPLENS_SIM_KVS_SEGMENT_SECONDS": "1", "STREAM_SECONDS": "3",
                    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY": "example-secret"}
        settings.update(env)
        proc = LambdaProcess(ctx, settings, tmp_path)
        started.append(proc)
        return proc

    yield start, ctx, sub, stats
    for proc in started:
        proc.stop()
    camera.stop()
    stats.close()
    project.close()
    broker.stop()


def _event(sub, proc: LambdaProcess, name: str) -> dict:
    """The Lambda's JSON message ``{"event": name, ...}``."""
    def seen() -> list[dict]:
        return [json.loads(p) for _, p in list(sub.messages) if p.startswith(b"{") and json.loads(p)["event"] == name]

    proc.wait_until(lambda: bool(seen()), timeout=40, what=f"the Lambda's {name!r} message")
    return seen()[0]


def test_a_device_lambda_streams_to_local_segments_and_old_ones_expire(lambda_run):
    start, ctx, sub, stats = lambda_run
    folder = layout.stream_folder(ctx.artifacts, "myStream")
    folder.mkdir(parents=True)
    old, recent = folder / "20200101T000000.000Z.mp4", folder / "20200101T010000.000Z.mp4"
    for path, age_h in ((old, 3), (recent, 1)):  # recordings of an earlier run, ended 3 h and 1 h ago
        path.write_bytes(b"earlier")
        os.utime(path, (time.time() - age_h * 3600,) * 2)
    proc = start(RETENTION_HOURS="2")
    assert _event(sub, proc, "started")["isActive"] is True
    assert _event(sub, proc, "stopped")["isActive"] is False
    assert not old.exists() and recent.exists()  # past the 2 h retention: deleted
    segs = [s for s in catalog.segments(ctx.artifacts, "myStream") if s.path != recent]
    assert len(segs) >= 2 and not any(s.recording for s in segs)
    probes = [probe(s.path) for s in segs]
    assert all(p.codec == "h264" and (p.width, p.height) == (640, 360) and p.frames > 0 for p in probes)
    info = catalog.streams(ctx.artifacts)[0]
    assert info.frames == sum(p.frames for p in probes) and info.cloud == "aws"
    proc.wait_until(lambda: stats.read().get("kvs_frames") == info.frames, what="the Lambda's stats show the frames")
    assert "real Kinesis Video ingestion needs the Kinesis Video Streams producer SDK" in proc.log()


def test_a_lambda_killed_while_streaming_leaves_playable_segments(lambda_run):
    start, ctx, sub, _ = lambda_run
    proc = start(STREAM_SECONDS="0", DEEPLENS_SIM_KVS_SEGMENT_SECONDS="60")  # streams until the process ends
    _event(sub, proc, "started")
    folder = layout.stream_folder(ctx.artifacts, "myStream")
    proc.wait_until(lambda: any(s.frames >= 40 for s in layout.read_statuses(folder)), what="40 frames recorded")
    growing = layout.growing_segments(folder)
    assert len(growing) == 1
    proc.stop(kill=True)
    assert not layout.growing_segments(folder)  # its process is gone: nothing is still being written
    interrupted = folder / growing.pop()
    assert layout.fragments(interrupted) >= 2  # a fragment a second, each written whole
    got = probe(interrupted)  # fragmented MP4: plays up to its last whole fragment
    assert got.codec == "h264" and got.frames >= 15
    assert catalog.latest_segment(ctx.artifacts, "myStream") == interrupted


def test_a_lambda_stopped_by_the_simulator_leaves_its_segments_and_no_status_file(lambda_run):
    start, ctx, sub, _ = lambda_run
    proc = start(STREAM_SECONDS="0")  # streams until the process ends
    _event(sub, proc, "started")
    folder = layout.stream_folder(ctx.artifacts, "myStream")
    proc.wait_until(lambda: len(layout.segment_files(folder)) >= 2, what="two segments recorded")
    assert [s.pid for s in layout.read_statuses(folder)] == [proc.proc.pid]
    proc.stop()  # SIGTERM, as the simulator ends a Lambda: the segment being written is finished
    assert proc.proc.returncode == 0, proc.log()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    segs = catalog.segments(ctx.artifacts, "myStream")
    assert len(segs) >= 2 and all(probe(s.path).frames > 0 for s in segs)


def test_with_the_local_cloud_the_stream_is_created_and_segments_go_to_s3(lambda_run, tmp_path):
    from simulator.cloud import LocalCloud
    from simulator.kvs.cloud import BUCKET

    start, ctx, sub, _ = lambda_run
    folder = layout.stream_folder(ctx.artifacts, "myStream")
    folder.mkdir(parents=True)
    earlier = folder / "20200101T000000.000Z.mp4"  # recorded by a Lambda stopped before it could upload it
    earlier.write_bytes(b"earlier segment")
    with LocalCloud(tmp_path / "cloud") as cloud:
        proc = start(RETENTION_HOURS="48", **cloud.env())
        _event(sub, proc, "stopped")
        kvs, s3 = cloud.client("kinesisvideo"), cloud.client("s3")
        info = kvs.describe_stream(StreamName="myStream")["StreamInfo"]
        assert info["DataRetentionInHours"] == 48 and info["MediaType"] == "video/h264"
        assert info["DeviceName"] == ctx.thing_name
        assert "myStream" in [s["StreamName"] for s in kvs.list_streams()["StreamInfoList"]]
        local = {f"myStream/{p.name}" for p in layout.segment_files(folder)}

        def uploaded() -> set[str]:
            return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}

        proc.wait_until(lambda: uploaded() == local, what="every segment uploaded")
        proc.wait_until(lambda: catalog.streams(ctx.artifacts)[0].uploaded == len(local),
                        what="the stream's status counts the uploads")
        latest = catalog.latest_segment(ctx.artifacts, "myStream")
        assert latest is not None and latest != earlier
        body = s3.get_object(Bucket=BUCKET, Key=f"myStream/{latest.name}")
        assert body["ContentType"] == "video/mp4" and body["Body"].read() == latest.read_bytes()
        assert cloud.get_object(BUCKET, "myStream/" + earlier.name) == b"earlier segment"
        assert catalog.streams(ctx.artifacts)[0].cloud == "local"


def test_a_lambda_that_only_streams_is_not_taken_for_hung(run_device, video_file, tmp_path):
    """Frames sent to Kinesis Video are progress: a Lambda idle while its stream records is not killed as hung."""
    import shutil

    from tests.support.waits import wait_until

    project = tmp_path / "streamer"
    shutil.copytree(LAMBDA.parent, project)
    (project / "project.yaml").write_text(
        "name: streamer\nlambda: lambda_function.py\nwatchdog_seconds: 2.5\n"
        "env: {STREAM_SECONDS: '0', DEEPLENS_SIM_KVS_SEGMENT_SECONDS: '1'}\n")  # streams until stopped, idle
    device, _ = run_device(project=str(project), source=str(video_file))
    # the clip plays at 30 fps: 100 frames take at least 3.3 s, more than the watchdog's time; a Lambda killed as
    # hung starts its count again and is killed again before it gets there
    wait_until(lambda: device.lambda_stats().get("kvs_frames", 0) >= 100, "100 frames streamed", timeout=90)
    status = device.status().lambda_
    assert status is not None and status.hung == 0 and status.restarts == 0 and status.state == "running", status
