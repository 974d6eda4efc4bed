"""The local AWS endpoint: real moto server, real boto3 clients (one in a Lambda-style subprocess), real files."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from simulator.cloud import CloudSnapshot, LocalCloud
from simulator.errors import ConfigError, PortInUseError

LAMBDA = Path(__file__).parent / "cloud" / "push_to_s3_lambda.py"


def client(cloud: LocalCloud, service: str, region: str = "us-east-1", config: Config | None = None):
    """A second, independent boto3 client (explicit endpoint: nothing comes from this process's environment)."""
    return boto3.client(service, endpoint_url=cloud.endpoint, region_name=region,
                        aws_access_key_id="other", aws_secret_access_key="other", config=config)


@pytest.fixture
def cloud(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="simulator.cloud")
    c = LocalCloud(tmp_path / "cloud").start()
    yield c
    c.stop()


def created(caplog, kind: str, name: str) -> int:
    return sum(f"created {kind} {name} on first use (local cloud)" in r.getMessage() for r in caplog.records)


def test_env_gives_lambdas_the_endpoint_and_never_touches_this_process(cloud):
    env = cloud.env()
    assert env["AWS_ENDPOINT_URL"] == cloud.endpoint == f"http://127.0.0.1:{cloud.port}"
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["DEEPLENS_SIM_CLOUD"] == "local"
    assert env["AWS_ENDPOINT_URL_REKOGNITION"] == env["AWS_ENDPOINT_URL_POLLY"] == cloud.endpoint
    assert not any(k.startswith("AWS_ENDPOINT_URL") for k in os.environ)
    assert os.environ.get("AWS_ACCESS_KEY_ID") != env["AWS_ACCESS_KEY_ID"] and "DEEPLENS_SIM_CLOUD" not in os.environ
    lam = cloud.lambda_environ({"PATH": "/bin", "AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "t",
                                "AWS_ENDPOINT_URL_S3": "https://elsewhere"})
    assert lam["PATH"] == "/bin" and "AWS_PROFILE" not in lam and "AWS_SESSION_TOKEN" not in lam
    assert "AWS_ENDPOINT_URL_S3" not in lam and lam["AWS_ENDPOINT_URL"] == cloud.endpoint


def test_unmodified_lambda_put_object_in_its_own_process(cloud, caplog):
    env = cloud.lambda_environ()
    for i in (1, 2):
        done = subprocess.run([sys.executable, str(LAMBDA), str(i)], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    keys = [json.loads(line)["key"] for line in done.stdout.splitlines()[-1:]]
    s3 = client(cloud, "s3")
    listed = s3.list_objects_v2(Bucket="deeplens-sagemaker-frames")["Contents"]
    assert len(listed) == 2 and keys[0] in [o["Key"] for o in listed]
    body = s3.get_object(Bucket="deeplens-sagemaker-frames", Key=keys[0])["Body"].read()
    assert body[:3] == b"\xff\xd8\xff" and body == cloud.get_object("deeplens-sagemaker-frames", keys[0])
    table = client(cloud, "dynamodb").describe_table(TableName="deeplens-detections")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert created(caplog, "bucket", "deeplens-sagemaker-frames") == 1
    assert created(caplog, "table", "deeplens-detections") == 1


def test_port_in_use_is_one_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError) as err:
            LocalCloud(tmp_path, port=port).start()
    assert str(port) in err.value.message and "--cloud-port" in err.value.hint
    with LocalCloud(tmp_path) as c:  # nothing was left half-started
        assert c.running


def test_bucket_created_once_under_concurrent_first_use(cloud, caplog):
    errors = []

    def put(i):
        try:
            client(cloud, "s3").put_object(Bucket="busy-bucket", Key=f"k{i}", Body=b"x")
        except ClientError as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert client(cloud, "s3").list_objects_v2(Bucket="busy-bucket")["KeyCount"] == 6
    assert created(caplog, "bucket", "busy-bucket") == 1


def test_bucket_names_aws_refuses_stay_refused(cloud):
    s3 = client(cloud, "s3")
    for call in (lambda: s3.put_object(Bucket="Frames_Bucket", Key="a", Body=b"x"),
                 lambda: s3.create_bucket(Bucket="Frames_Bucket"),
                 lambda: s3.put_object(Bucket="192.168.1.1", Key="a", Body=b"x")):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "InvalidBucketName"
    assert s3.list_buckets()["Buckets"] == []


def test_dynamodb_table_created_with_an_inferred_key(cloud, caplog):
    ddb = client(cloud, "dynamodb")
    ddb.put_item(TableName="frames", Item={"label": {"S": "person"}, "frameId": {"N": "7"}})
    ddb.put_item(TableName="labels", Item={"count": {"N": "2"}, "label": {"S": "dog"}})
    ddb.update_item(TableName="counters", Key={"ts": {"N": "5"}, "device_id": {"S": "d1"}},
                    UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "1"}})
    keys = {t: ddb.describe_table(TableName=t)["Table"]["KeySchema"] for t in ("frames", "labels", "counters")}
    assert keys["frames"] == [{"AttributeName": "frameId", "KeyType": "HASH"}]
    assert keys["labels"] == [{"AttributeName": "label", "KeyType": "HASH"}]
    assert keys["counters"] == [{"AttributeName": "device_id", "KeyType": "HASH"},
                                {"AttributeName": "ts", "KeyType": "RANGE"}]
    assert ddb.get_item(TableName="frames", Key={"frameId": {"N": "7"}})["Item"]["label"] == {"S": "person"}
    with pytest.raises(ClientError) as err:  # a Scan reveals no key schema: AWS's error stays
        ddb.scan(TableName="never-written")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert created(caplog, "table", "frames") == 1


def test_queue_topic_and_stream_created_on_first_use(cloud, caplog):
    sqs = client(cloud, "sqs")
    sqs.send_message(QueueUrl="https://sqs.us-east-1.amazonaws.com/123456789012/alerts", MessageBody="intruder")
    url = sqs.get_queue_url(QueueName="alerts")["QueueUrl"]
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["intruder"]
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"].endswith("/jobs")
    sns = client(cloud, "sns")
    assert sns.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:people", Message="2 people")["MessageId"]
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == ["arn:aws:sns:us-east-1:123456789012:people"]
    kinesis = client(cloud, "kinesis")
    assert kinesis.put_record(StreamName="events", Data=b"{}", PartitionKey="d1")["ShardId"]
    for kind, name in (("queue", "alerts"), ("queue", "jobs"), ("topic", "people"), ("stream", "events")):
        assert created(caplog, kind, name) == 1


def test_everything_survives_a_restart(tmp_path):
    state = tmp_path / "state"
    (state / "s3" / "seeded-bucket" / "docs").mkdir(parents=True)
    (state / "s3" / "seeded-bucket" / "docs" / "hello.txt").write_text("seeded by hand")
    with LocalCloud(state) as first:
        s3, ddb, sqs, sns = (client(first, s) for s in ("s3", "dynamodb", "sqs", "sns"))
        s3.put_object(Bucket="frames", Key="2026/12/a.jpg", Body=b"\xff\xd8jpeg", ContentType="image/jpeg",
                      Metadata={"device": "d1"})
        s3.put_object(Bucket="frames", Key="odd/../key", Body=b"not a safe path")
        s3.put_object(Bucket="frames", Key="gone.txt", Body=b"deleted before stop")
        s3.delete_object(Bucket="frames", Key="gone.txt")
        assert s3.get_object(Bucket="seeded-bucket", Key="docs/hello.txt")["Body"].read() == b"seeded by hand"
        ddb.put_item(TableName="detections", Item={"id": {"S": "f1"}, "raw": {"B": b"\x00\xff"},
                                                   "scores": {"NS": ["0.5", "0.9"]}})
        url = sqs.get_queue_url(QueueName="work")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="waiting",
                         MessageAttributes={"kind": {"DataType": "String", "StringValue": "frame"}})
        sqs.send_message(QueueUrl=url, MessageBody="in flight")
        sqs.send_message(QueueUrl=url, MessageBody="consumed")
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300)["Messages"]:
            if m["Body"] == "consumed":
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        sns.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:alerts", Message="kept")
    # what the run wrote is on disk, objects as plain files
    assert (state / "s3" / "frames" / "2026" / "12" / "a.jpg").read_bytes() == b"\xff\xd8jpeg"
    assert not (state / "s3" / "frames" / "gone.txt").exists()
    assert json.loads((state / "dynamodb" / "us-east-1" / "detections.json").read_text())["Items"]
    queued = [json.loads(line)["body"] for line in (state / "sqs" / "messages.jsonl").read_text().splitlines()]
    assert sorted(queued) == ["in flight", "waiting"]
    assert "kept" in (state / "sns" / "messages.jsonl").read_text()

    with LocalCloud(state) as second:
        s3, ddb, sqs = (client(second, s) for s in ("s3", "dynamodb", "sqs"))
        got = s3.get_object(Bucket="frames", Key="2026/12/a.jpg")
        assert got["Body"].read() == b"\xff\xd8jpeg" and got["ContentType"] == "image/jpeg"
        assert got["Metadata"] == {"device": "d1"}
        assert s3.get_object(Bucket="frames", Key="odd/../key")["Body"].read() == b"not a safe path"
        assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket="frames")["Contents"]) == \
            ["2026/12/a.jpg", "odd/../key"]
        item = ddb.get_item(TableName="detections", Key={"id": {"S": "f1"}})["Item"]
        assert item["raw"] == {"B": b"\x00\xff"} and sorted(item["scores"]["NS"]) == ["0.5", "0.9"]
        url = sqs.get_queue_url(QueueName="work")["QueueUrl"]
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
        assert sorted(m["Body"] for m in msgs) == ["in flight", "waiting"]
        assert next(m for m in msgs if m["Body"] == "waiting")["MessageAttributes"]["kind"]["StringValue"] == "frame"
        snap = second.snapshot()
        assert [m.body for t in snap.topics if t.name == "alerts" for m in t.messages] == ["kept"]
        s3.delete_object(Bucket="seeded-bucket", Key="docs/hello.txt")
    assert not (state / "s3" / "seeded-bucket" / "docs" / "hello.txt").exists()


def test_snapshot_shows_latest_objects_items_and_messages(cloud):
    s3, ddb, sqs, sns = (client(cloud, s) for s in ("s3", "dynamodb", "sqs", "sns"))
    for i in range(3):
        s3.put_object(Bucket="frames", Key=f"f{i}.jpg", Body=b"\xff\xd8" + bytes(i), ContentType="image/jpeg")
        ddb.put_item(TableName="events", Item={"id": {"S": f"e{i}"}, "n": {"N": str(i)}})
    ddb.put_item(TableName="events", Item={"id": {"S": "e0"}, "n": {"N": "10"}})  # rewritten: newest again
    url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m1")
    sns.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:t", Message="p1", Subject="s")

    snap = cloud.snapshot(max_items=2)
    assert isinstance(snap, CloudSnapshot)
    json.dumps(snap.model_dump(mode="json"))  # JSON-ready
    (bucket,) = snap.buckets
    assert bucket.name == "frames" and bucket.object_count == 3 and not bucket.truncated
    assert {o.key for o in bucket.objects} == {"f0.jpg", "f1.jpg", "f2.jpg"}
    assert all(o.content_type == "image/jpeg" and o.size >= 2 for o in bucket.objects)
    (table,) = snap.tables
    assert table.hash_key == "id" and table.item_count == 3
    assert [i["id"] for i in table.items] == ["e0", "e2"] and table.items[0]["n"] == 10
    (queue,) = snap.queues
    assert queue.waiting == 1 and [m.body for m in queue.messages] == ["m1"]
    (topic,) = snap.topics
    assert [(m.body, m.subject) for m in topic.messages] == [("p1", "s")]
    with pytest.raises(Exception):  # noqa: B017 - frozen
        snap.region = "eu-west-1"


def test_a_bad_state_file_names_file_line_and_field(tmp_path):
    folder = tmp_path / "dynamodb" / "us-east-1"
    folder.mkdir(parents=True)
    bad = folder / "t.json"
    bad.write_text('{\n "TableName": "t",\n "KeySchema": [],\n "AttributeDefinitions": [],\n "Itemz": []\n}\n')
    with pytest.raises(ConfigError) as err:
        LocalCloud(tmp_path).start()
    assert f"{bad}:5" in str(err.value) and "Itemz" in str(err.value)
    with LocalCloud(tmp_path / "other") as c:  # the failed start left nothing running
        assert c.running


def test_iot_data_publish_is_handed_over(cloud):
    got = []
    cloud.on_iot_publish(lambda topic, payload, qos: got.append((topic, payload, qos)))
    client(cloud, "iot-data").publish(topic="$aws/things/deeplens_1/infer", qos=1, payload=b'{"person": 0.9}')
    assert got == [("$aws/things/deeplens_1/infer", b'{"person": 0.9}', 1)]


def test_a_missing_model_is_a_clear_error_not_a_retried_500():
    from werkzeug.test import Client

    from simulator.cloud.activity import Activity
    from simulator.cloud.gateway import Gateway
    from simulator.errors import ModelNotFoundError

    def offline(call):
        raise ModelNotFoundError("model 'sface' is not in the cache", hint="python main.py models fetch sface")

    app = Gateway(moto_app=None, region="us-east-1", activity=Activity(), own={"rekognition": offline})
    app.open()
    reply = Client(app).post("/", data="{}", headers={"X-Amz-Target": "RekognitionService.DetectFaces"})
    body = json.loads(reply.get_data())
    assert reply.status_code == 400 and reply.headers["x-amzn-ErrorType"] == "ModelNotFoundException"
    assert body["__type"] == "ModelNotFoundException" and "models fetch sface" in body["message"]


def test_lazy_cloud_loads_at_the_first_call_and_saves_nothing_when_unused(tmp_path):
    lazy = LocalCloud(tmp_path / "lazy").start(lazy=True)
    try:
        assert lazy.running and not lazy.booted  # the port answers, moto is not loaded yet
        s3 = client(lazy, "s3")
        s3.put_object(Bucket="first-call", Key="k", Body=b"hello")  # waits for the cloud to load
        assert lazy.booted and s3.get_object(Bucket="first-call", Key="k")["Body"].read() == b"hello"
    finally:
        lazy.stop()
    assert (tmp_path / "lazy" / "s3" / "first-call" / "k").read_bytes() == b"hello"
    unused = LocalCloud(tmp_path / "unused").start(lazy=True)
    unused.stop()
    assert not unused.booted and not (tmp_path / "unused").exists()


def test_a_first_call_waits_until_the_saved_state_is_loaded_and_is_not_wiped_by_it(tmp_path, monkeypatch):
    from simulator.cloud import persist

    with LocalCloud(tmp_path / "state") as earlier:
        client(earlier, "s3").put_object(Bucket="kept", Key="old", Body=b"saved")
    real_load, loading = persist.load_state, threading.Event()

    def slow_load(cloud):  # the cloud's own clients must get through while callers wait
        loading.set()
        real_load(cloud)
        threading.Event().wait(1.0)  # a window in which a caller's request used to be answered

    monkeypatch.setattr(persist, "load_state", slow_load)
    lazy = LocalCloud(tmp_path / "state").start(lazy=True)
    try:
        s3 = client(lazy, "s3")
        s3.put_object(Bucket="kept", Key="new", Body=b"first call")
        assert loading.is_set() and lazy.booted  # answered after the load, not during it
        assert s3.get_object(Bucket="kept", Key="old")["Body"].read() == b"saved"
        assert s3.get_object(Bucket="kept", Key="new")["Body"].read() == b"first call"
    finally:
        lazy.stop()


def test_a_cloud_that_cannot_load_answers_the_waiting_call_with_503(tmp_path, monkeypatch, caplog):
    from simulator.cloud import persist

    caplog.set_level(logging.DEBUG, logger="simulator.cloud.gateway")

    def broken(cloud):  # fails once the caller's request is held at the door
        for _ in range(300):
            if any("waits for the local cloud to load" in r.getMessage() for r in caplog.records):
                break
            threading.Event().wait(0.1)
        raise OSError("state folder unreadable")

    monkeypatch.setattr(persist, "load_state", broken)
    lazy = LocalCloud(tmp_path / "state").start(lazy=True)
    try:
        s3 = client(lazy, "s3", config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        with pytest.raises(ClientError) as failure:
            s3.put_object(Bucket="never-made", Key="k", Body=b"x")
        assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert not lazy.booted
    finally:
        lazy.stop()
