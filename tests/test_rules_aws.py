"""The AWS actions against a real moto server, checked with a second, independent boto3 client: what each action
writes, resources created on first use only when the cloud is local, and runtime failures reaching errorAction."""

from __future__ import annotations

import base64
import json

from tests.rules.support import HERE, aws_client, status_of, wait_until

pytest_plugins = ["tests.rules.fixtures"]


def test_dynamodb_v2_rule_pasted_from_the_aws_cli(moto_env, start_engine, rules_publisher):
    engine = start_engine(HERE / "get_topic_rule.json", env=moto_env)
    rules_publisher.publish("$aws/things/deeplens_cam/infer", {"person": 0.2})  # WHERE is false
    rules_publisher.publish("$aws/things/deeplens_cam/infer", {"person": 0.93, "dog": 0.1})
    st = wait_until(lambda: (s := status_of(engine, "deeplens_infer_to_dynamodb")).actions_succeeded and s,
                    what="the PutItem")
    assert (st.received, st.matched, st.actions_failed) == (2, 1, 0)
    ddb = aws_client(moto_env, "dynamodb")
    table = ddb.describe_table(TableName="DeepLensDetections")["Table"]
    # made on first use: the thing is the partition key, the timestamp the sort key (a row per message)
    assert table["KeySchema"] == [{"AttributeName": "thing", "KeyType": "HASH"},
                                  {"AttributeName": "ts", "KeyType": "RANGE"}]
    ts = json.loads(st.last_output)["ts"]
    item = ddb.get_item(TableName="DeepLensDetections",
                        Key={"thing": {"S": "deeplens_cam"}, "ts": {"N": str(ts)}})["Item"]
    assert item["person"] == {"N": "0.93"} and item["dog"] == {"N": "0.1"}


def test_dynamodb_v1_keys_and_payload_column(moto_env, start_engine, rules_publisher):
    engine = start_engine("""
        rules:
          - ruleName: events
            sql: "SELECT seq, label, {'p': prob} AS detail FROM 'dev/+'"
            actions:
              - dynamoDB:
                  tableName: dl_events
                  hashKeyField: thing
                  hashKeyValue: "${topic(2)}"
                  rangeKeyField: seq
                  rangeKeyType: NUMBER
                  rangeKeyValue: "${seq}"
                  payloadField: data
                  roleArn: arn:aws:iam::123456789012:role/r
        """, env=moto_env)
    rules_publisher.publish("dev/cam1", {"seq": 5, "label": "cat", "prob": 0.75})
    wait_until(lambda: status_of(engine, "events").actions_succeeded, what="the PutItem")
    ddb = aws_client(moto_env, "dynamodb")
    item = ddb.get_item(TableName="dl_events", Key={"thing": {"S": "cam1"}, "seq": {"N": "5"}})["Item"]
    assert item["data"] == {"M": {"seq": {"N": "5"}, "label": {"S": "cat"}, "detail": {"M": {"p": {"N": "0.75"}}}}}


def test_s3_from_create_topic_rule_json_and_binary_payloads(moto_env, start_engine, rules_publisher):
    engine = start_engine(HERE / "create_topic_rule.json", env=moto_env)
    rules_publisher.publish("$aws/things/cam9/infer", {"seq": 1, "x": 2})
    wait_until(lambda: status_of(engine, "deeplens_to_s3").actions_succeeded, what="the PutObject")
    s3 = aws_client(moto_env, "s3")
    assert s3.get_object(Bucket="deeplens-results", Key="cam9/1.json")["Body"].read() == b'{"seq":1,"x":2}'
    raw = bytes(range(256))
    engine = start_engine("""
        rules:
          - ruleName: images
            sql: "SELECT * FROM 'img/+'"
            actions: [{s3: {bucketName: dl-images, key: "${topic(2)}.bin"}}]
        """, env=moto_env)
    rules_publisher.publish("img/frame1", raw)
    wait_until(lambda: status_of(engine, "images").actions_succeeded, what="the binary PutObject")
    assert s3.get_object(Bucket="dl-images", Key="frame1.bin")["Body"].read() == raw


def test_bad_bucket_name_at_run_time_fails_into_the_error_action(moto_env, start_engine, rules_publisher, subscribe,
                                                                 broker):
    errors = subscribe(broker.port, "deeplens/errors")
    engine = start_engine("""
        rules:
          - ruleName: per_device_bucket
            sql: "SELECT * FROM 'dev/+'"
            actions: [{s3: {bucketName: "${bucket}", key: k}}]
            errorAction: {republish: {topic: deeplens/errors}}
        """, env=moto_env)
    rules_publisher.publish("dev/cam1", {"bucket": "Not_Valid"})
    _, raw = errors.wait_for(lambda m: True)
    (failure,) = json.loads(raw)["failures"]
    assert failure["failedAction"] == "S3Action" and failure["failedResource"] == "Not_Valid"
    assert "may hold only lowercase letters" in failure["errorMessage"]
    assert status_of(engine, "per_device_bucket").actions[0].failed == 1
    assert "Not_Valid" not in [b["Name"] for b in aws_client(moto_env, "s3").list_buckets()["Buckets"]]


def test_sns_sqs_kinesis_firehose(moto_env, start_engine, rules_publisher):
    sns, sqs = aws_client(moto_env, "sns"), aws_client(moto_env, "sqs")
    topic_arn = sns.create_topic(Name="dl-alerts")["TopicArn"]  # an existing topic, with a queue listening
    inbox = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
    engine = start_engine("""
        rules:
          - ruleName: fan_out
            sql: "SELECT k, topic(2) AS src FROM 'fan/+'"
            actions:
              - sns: {targetArn: "arn:aws:sns:us-east-1:123456789012:dl-alerts", messageFormat: RAW}
              - sqs: {queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/dl-queue", useBase64: false}
              - sqs: {queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/dl-queue-b64", useBase64: true}
              - kinesis: {streamName: dl-stream, partitionKey: "${topic(2)}"}
              - firehose: {deliveryStreamName: dl-firehose, separator: "\\n"}
        """, env=moto_env)
    rules_publisher.publish("fan/out", {"k": 1})
    st = wait_until(lambda: (s := status_of(engine, "fan_out")).actions_succeeded == 5 and s,
                    what="five actions", timeout=30)
    assert st.actions_failed == 0, st.last_error
    expected = b'{"k":1,"src":"out"}'

    (note,) = sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1)["Messages"]
    assert json.loads(note["Body"])["Message"] == expected.decode()
    url = sqs.get_queue_url(QueueName="dl-queue")["QueueUrl"]  # created on first use
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == expected.decode()
    url = sqs.get_queue_url(QueueName="dl-queue-b64")["QueueUrl"]
    assert base64.b64decode(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"]) == expected

    kinesis = aws_client(moto_env, "kinesis")
    shard = kinesis.describe_stream(StreamName="dl-stream")["StreamDescription"]["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName="dl-stream", ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    (record,) = kinesis.get_records(ShardIterator=it)["Records"]
    assert (record["Data"], record["PartitionKey"]) == (expected, "out")

    s3 = aws_client(moto_env, "s3")
    (obj,) = s3.list_objects_v2(Bucket="deeplens-sim-firehose-dl-firehose")["Contents"]
    assert s3.get_object(Bucket="deeplens-sim-firehose-dl-firehose", Key=obj["Key"])["Body"].read() == \
        expected + b"\n"


def test_nothing_is_created_unless_the_cloud_is_local(moto_env, start_engine, rules_publisher):
    env = {k: v for k, v in moto_env.items() if k != "DEEPLENS_SIM_CLOUD"}  # e.g. a real AWS account
    engine = start_engine("""
        rules:
          - ruleName: careful
            sql: "SELECT * FROM 'c'"
            actions: [{s3: {bucketName: never-created-bucket, key: k}}]
        """, env=env)
    rules_publisher.publish("c", {"x": 1})
    st = wait_until(lambda: (s := status_of(engine, "careful")).actions_failed and s, what="the failure")
    assert "NoSuchBucket" in st.last_error
    buckets = [b["Name"] for b in aws_client(moto_env, "s3").list_buckets()["Buckets"]]
    assert "never-created-bucket" not in buckets
