"""SNS topics and subscriptions, SQS queues and their unconsumed messages, and Kinesis stream names, kept
under the state folder. (Published SNS messages are appended to ``sns/messages.jsonl`` as they happen.)

Unconsumed SQS messages — waiting, delayed or in flight — are read from moto's queue objects, since receiving
them through the API would hide in-flight ones."""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timezone
from pathlib import Path

from .stored import (
    QueuedMessage,
    QueueRecord,
    Queues,
    StreamRecord,
    Streams,
    Subscription,
    TopicRecord,
    Topics,
    read_json_model,
    read_jsonl,
    write_atomic,
    write_json,
)

log = logging.getLogger(__name__)

_QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "Policy",
                     "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "VisibilityTimeout", "FifoQueue",
                     "ContentBasedDeduplication", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
                     "DeduplicationScope", "FifoThroughputLimit", "RedriveAllowPolicy")
_TOPIC_ATTRIBUTES = ("DisplayName", "FifoTopic", "ContentBasedDeduplication", "Policy", "DeliveryPolicy")


def export_messaging(client_for, regions: set[str], state_dir: Path, account_id: str) -> tuple[int, int]:
    """Write topics, queues (with unconsumed messages) and streams of ``regions``.
    Returns (topics, unconsumed messages)."""
    topics, queues, streams, waiting = Topics(), Queues(), Streams(), []
    for region in sorted(regions):
        sns = client_for("sns", region)
        for arn in (t["TopicArn"] for page in sns.get_paginator("list_topics").paginate()
                    for t in page.get("Topics", [])):
            attrs = sns.get_topic_attributes(TopicArn=arn).get("Attributes", {})
            subs = [Subscription(protocol=s["Protocol"], endpoint=s["Endpoint"])
                    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
                    for s in page.get("Subscriptions", [])]
            topics.topics.append(TopicRecord(region=region, name=arn.rsplit(":", 1)[-1], subscriptions=subs,
                                             attributes={k: v for k, v in attrs.items() if k in _TOPIC_ATTRIBUTES}))
        sqs = client_for("sqs", region)
        for url in sqs.list_queues().get("QueueUrls", []):
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
            name = url.rstrip("/").rsplit("/", 1)[-1]
            queues.queues.append(QueueRecord(region=region, name=name,
                                             attributes={k: v for k, v in attrs.items() if k in _QUEUE_ATTRIBUTES}))
            waiting += _unconsumed(account_id, region, name)
        kinesis = client_for("kinesis", region)
        for name in kinesis.list_streams().get("StreamNames", []):
            shards = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["OpenShardCount"]
            streams.streams.append(StreamRecord(region=region, name=name, shards=max(1, shards)))
    write_json(state_dir / "sns" / "topics.json", topics)
    write_json(state_dir / "sqs" / "queues.json", queues)
    write_json(state_dir / "kinesis" / "streams.json", streams)
    write_atomic(state_dir / "sqs" / "messages.jsonl", "".join(m.model_dump_json() + "\n" for m in waiting).encode())
    return len(topics.topics), len(waiting)


def _attribute_text(value: dict) -> dict[str, str]:
    out = {}
    for key, v in value.items():
        if key in ("DataType", "StringValue"):
            out[key] = str(v)
        elif key == "BinaryValue":
            out[key] = base64.b64encode(v).decode() if isinstance(v, (bytes, bytearray)) else str(v)
    return out


def _unconsumed(account_id: str, region: str, name: str) -> list[QueuedMessage]:
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[account_id][region].queues.get(name)
    if queue is None:
        return []
    out = []
    for m in list(queue._messages):  # waiting, delayed and in-flight alike: none is consumed yet
        sent = datetime.fromtimestamp(int(m.sent_timestamp) / 1000, timezone.utc) if m.sent_timestamp else None
        out.append(QueuedMessage(region=region, queue=name, body=m.body, group_id=m.group_id,
                                 deduplication_id=m.deduplication_id, sent_at=sent,
                                 attributes={k: _attribute_text(v) for k, v in m.message_attributes.items()}))
    return out


def import_messaging(client_for, state_dir: Path) -> tuple[int, int, set[str]]:
    """Create the kept queues, topics (with their subscriptions) and streams, and re-send unconsumed messages.
    Returns (topics, messages re-sent, regions seen)."""
    regions: set[str] = set()
    path = state_dir / "sqs" / "queues.json"
    queues = read_json_model(path, Queues).queues if path.is_file() else []
    urls = {}
    for q in sorted(queues, key=lambda q: "RedrivePolicy" in q.attributes):  # dead-letter queues first
        regions.add(q.region)
        urls[(q.region, q.name)] = client_for("sqs", q.region).create_queue(QueueName=q.name,
                                                                           Attributes=q.attributes)["QueueUrl"]
    path = state_dir / "sns" / "topics.json"
    topics = read_json_model(path, Topics).topics if path.is_file() else []
    for t in topics:
        regions.add(t.region)
        sns = client_for("sns", t.region)
        arn = sns.create_topic(Name=t.name, Attributes=t.attributes)["TopicArn"]
        for s in t.subscriptions:
            sns.subscribe(TopicArn=arn, Protocol=s.protocol, Endpoint=s.endpoint)
    path = state_dir / "sqs" / "messages.jsonl"
    sent = 0
    for m in read_jsonl(path, QueuedMessage) if path.is_file() else []:
        url = urls.get((m.region, m.queue))
        if url is None:
            log.warning("%s: queue %s (%s) is not in queues.json; message not re-sent", path, m.queue, m.region)
            continue
        extra = {"MessageGroupId": m.group_id} if m.group_id else {}
        if m.deduplication_id:
            extra["MessageDeduplicationId"] = m.deduplication_id
        attrs = {k: {**v, "BinaryValue": base64.b64decode(v["BinaryValue"])} if "BinaryValue" in v else v
                 for k, v in m.attributes.items()}
        client_for("sqs", m.region).send_message(QueueUrl=url, MessageBody=m.body, MessageAttributes=attrs, **extra)
        sent += 1
    path = state_dir / "kinesis" / "streams.json"
    for stream in read_json_model(path, Streams).streams if path.is_file() else []:
        regions.add(stream.region)
        client_for("kinesis", stream.region).create_stream(StreamName=stream.name, ShardCount=stream.shards)
    return len(topics), sent, regions
