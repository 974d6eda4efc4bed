"""What the local cloud holds, as frozen JSON-ready models (``model_dump(mode="json")``) for the viewers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ObjectInfo(_Frozen):
    """One S3 object (fetch its bytes with ``LocalCloud.get_object(bucket, key)``)."""

    key: str
    size: int
    last_modified: datetime
    content_type: str | None = None


class BucketInfo(_Frozen):
    """A bucket and its newest objects (``truncated`` when it holds more than were listed)."""

    name: str
    region: str
    object_count: int
    truncated: bool
    objects: tuple[ObjectInfo, ...]


class TableInfo(_Frozen):
    """A DynamoDB table, its key and its most recently written items (as plain JSON: numbers as int/float,
    binary as base64 text, sets as lists)."""

    name: str
    region: str
    hash_key: str
    range_key: str | None = None
    item_count: int
    items: tuple[dict[str, Any], ...]


class SentMessage(_Frozen):
    """A message published to an SNS topic or sent to an SQS queue (also one line of the JSON Lines logs)."""

    service: str                  # "sns" or "sqs"
    target: str                   # the topic ARN, or the queue name
    region: str
    message_id: str
    body: str
    subject: str | None = None
    attributes: dict[str, str] = {}
    group_id: str | None = None
    sent_at: datetime


class TopicInfo(_Frozen):
    arn: str
    name: str
    region: str
    subscriptions: int
    messages: tuple[SentMessage, ...]   # newest first


class QueueInfo(_Frozen):
    name: str
    url: str
    region: str
    waiting: int                        # ApproximateNumberOfMessages
    in_flight: int                      # ApproximateNumberOfMessagesNotVisible
    messages: tuple[SentMessage, ...]   # newest first


class CollectionInfo(_Frozen):
    """A local Rekognition face collection."""

    collection_id: str
    face_count: int


class CloudSnapshot(_Frozen):
    """Everything the local cloud holds, bounded per bucket, table, topic and queue."""

    endpoint: str
    region: str
    taken_at: datetime
    buckets: tuple[BucketInfo, ...] = ()
    tables: tuple[TableInfo, ...] = ()
    topics: tuple[TopicInfo, ...] = ()
    queues: tuple[QueueInfo, ...] = ()
    collections: tuple[CollectionInfo, ...] = ()
