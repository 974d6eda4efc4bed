"""Building a CloudSnapshot: what the local cloud holds, read through its own API, bounded per container."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from .snapshot import BucketInfo, CloudSnapshot, CollectionInfo, ObjectInfo, QueueInfo, TableInfo, TopicInfo

if TYPE_CHECKING:
    from .local import LocalCloud

LIST_LIMIT = 1000   # keys listed per bucket; the newest of them are shown
_deserializer = TypeDeserializer()
_content_types: dict[tuple[str, str, str, str], str | None] = {}   # (endpoint, bucket, key, ETag) -> type


def plain(value: Any) -> Any:
    """A deserialised DynamoDB value as plain JSON (Decimal -> int/float, bytes -> base64, sets -> lists)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value") and type(value).__name__ == "Binary":
        return base64.b64encode(bytes(value.value)).decode()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=str)
    return value


def _item(raw: dict) -> dict[str, Any]:
    return {k: plain(_deserializer.deserialize(v)) for k, v in raw.items()}


def _buckets(cloud: LocalCloud, max_objects: int) -> list[BucketInfo]:
    s3 = cloud.client("s3")
    out = []
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        page = s3.list_objects_v2(Bucket=name, MaxKeys=LIST_LIMIT)
        listed = sorted(page.get("Contents", []), key=lambda o: o["LastModified"], reverse=True)
        objects = []
        for obj in listed[:max_objects]:
            marker = (cloud.endpoint, name, obj["Key"], obj.get("ETag", ""))
            if marker not in _content_types:
                if len(_content_types) > 10_000:
                    _content_types.clear()
                _content_types[marker] = s3.head_object(Bucket=name, Key=obj["Key"]).get("ContentType")
            objects.append(ObjectInfo(key=obj["Key"], size=obj["Size"], last_modified=obj["LastModified"],
                                      content_type=_content_types[marker]))
        region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        out.append(BucketInfo(name=name, region=region, object_count=len(listed),
                              truncated=bool(page.get("IsTruncated")), objects=tuple(objects)))
    return out


def _tables(cloud: LocalCloud, regions: list[str], max_items: int) -> list[TableInfo]:
    out = []
    for region in regions:
        ddb = cloud.client("dynamodb", region)
        for name in ddb.list_tables().get("TableNames", []):
            desc = ddb.describe_table(TableName=name)["Table"]
            keys = {k["KeyType"]: k["AttributeName"] for k in desc["KeySchema"]}
            key_names = [keys["HASH"]] + ([keys["RANGE"]] if "RANGE" in keys else [])
            wanted, seen = [], set()
            for attrs in cloud.activity.written(region, name):
                if all(k in attrs for k in key_names):
                    key = {k: attrs[k] for k in key_names}
                    marker = repr(sorted(key.items()))
                    if marker not in seen:
                        seen.add(marker)
                        wanted.append(key)
                if len(wanted) >= max_items:
                    break
            if wanted:
                items = [ddb.get_item(TableName=name, Key=k).get("Item") for k in wanted]
                found = [i for i in items if i]
            else:
                found = ddb.scan(TableName=name, Limit=max_items).get("Items", [])
            out.append(TableInfo(name=name, region=region, hash_key=keys["HASH"], range_key=keys.get("RANGE"),
                                 item_count=int(desc.get("ItemCount", 0)), items=tuple(_item(i) for i in found)))
    return out


def _topics_and_queues(cloud: LocalCloud, regions: list[str]) -> tuple[list[TopicInfo], list[QueueInfo]]:
    topics, queues = [], []
    for region in regions:
        sns = cloud.client("sns", region)
        for t in sns.list_topics().get("Topics", []):
            arn = t["TopicArn"]
            subs = sns.list_subscriptions_by_topic(TopicArn=arn).get("Subscriptions", [])
            topics.append(TopicInfo(arn=arn, name=arn.rsplit(":", 1)[-1], region=region, subscriptions=len(subs),
                                    messages=cloud.activity.messages("sns", region, arn)))
        sqs = cloud.client("sqs", region)
        for url in sqs.list_queues().get("QueueUrls", []):
            name = url.rstrip("/").rsplit("/", 1)[-1]
            attrs = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            ).get("Attributes", {})
            queues.append(QueueInfo(name=name, url=url, region=region,
                                    waiting=int(attrs.get("ApproximateNumberOfMessages", 0)),
                                    in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                                    messages=cloud.activity.messages("sqs", region, name)))
    return topics, queues


def take_snapshot(cloud: LocalCloud, max_objects: int, max_items: int) -> CloudSnapshot:
    regions = sorted(set(cloud.activity.regions) | {cloud.region})
    topics, queues = _topics_and_queues(cloud, regions)
    collections = cloud.rekognition.collections.summary() if cloud.rekognition is not None else []
    return CloudSnapshot(
        endpoint=cloud.endpoint, region=cloud.region, taken_at=datetime.now(timezone.utc),
        buckets=tuple(_buckets(cloud, max_objects)), tables=tuple(_tables(cloud, regions, max_items)),
        topics=tuple(topics), queues=tuple(queues),
        collections=tuple(CollectionInfo(collection_id=c, face_count=n) for c, n in collections))
