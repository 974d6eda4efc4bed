"""The AWS actions, through boto3 to the endpoint of the engine's environment: dynamoDBv2, dynamoDB, s3, sns,
sqs, kinesis, firehose. Each writes what AWS IoT writes for the same action."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from simulator.rules.actions.base import ActionError, RuleAction, json_output
from simulator.rules.plan import bucket_name_problem
from simulator.rules.schema import (
    DynamoDBAction,
    DynamoDBv2Action,
    FirehoseAction,
    KinesisAction,
    S3Action,
    SnsAction,
    SqsAction,
)
from simulator.rules.sql.message import Message
from simulator.rules.sql.values import UNDEFINED, is_number, parse_decimal

_serializer = TypeSerializer()


def _attempt(resource: str, what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (ClientError, BotoCoreError, TimeoutError) as exc:
        raise ActionError(f"{what}: {exc}", resource) from None


def _dynamo_value(v: Any) -> dict:
    """A JSON value as a DynamoDB attribute value (numbers as N, objects as M, arrays as L...)."""
    def to_decimals(x: Any) -> Any:
        if isinstance(x, float):
            return Decimal(repr(x))
        if isinstance(x, list):
            return [to_decimals(i) for i in x]
        if isinstance(x, dict):
            return {k: to_decimals(i) for k, i in x.items()}
        return x
    return _serializer.serialize(to_decimals(v))


def _key_value(value: str, key_type: str | None, field: str) -> dict:
    if key_type == "NUMBER":
        if parse_decimal(value) is UNDEFINED:
            raise ActionError(f"{field} '{value}' is not a NUMBER")
        return {"N": value.strip()}
    return {"S": value}


_ID_LIKE = re.compile(r"^(id|key|pk|thing|thingname|device|deviceid|clientid)$|(_id|Id|_key|Key|_name|Name)$", re.I)
_TIME_LIKE = re.compile(r"^(ts|time|timestamp|at|date|datetime)$|(_ts|_at|_time|Time|Timestamp)$", re.I)


def _table_keys(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Key schema for a table created on first use: an id-like field (``thing``, ``id``, ``*_id``…) as the
    partition key, else the first field; a time-like field (``ts``, ``timestamp``…) as the sort key when there
    is one, so each message is a new row as in the usual ``thing`` + ``ts`` table."""
    def kind(value: Any) -> str:
        return "N" if is_number(value) else "S"

    names = list(doc)
    hash_key = next((n for n in names if _ID_LIKE.search(n) and isinstance(doc[n], (str, int, float))), names[0])
    keys = [(hash_key, kind(doc[hash_key]))]
    sort_key = next((n for n in names if n != hash_key and _TIME_LIKE.search(n)
                     and isinstance(doc[n], (str, int, float))), None)
    if sort_key is not None:
        keys.append((sort_key, kind(doc[sort_key])))
    return keys


class DynamoDBv2(RuleAction[DynamoDBv2Action]):
    """Every top-level field of the outgoing JSON object becomes an attribute of one item (PutItem). A missing
    local table is created with an id-like field as its partition key and a time-like field as its sort key
    (``_table_keys``)."""

    def target(self) -> str:
        return self.spec.put_item.table_name

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        doc = json_output(output, "dynamoDBv2")
        table = self.render("putItem.tableName", m)
        if not isinstance(doc, dict) or not doc:
            raise ActionError("dynamoDBv2 writes a non-empty JSON object (one attribute per field)", table)
        keys = _table_keys(doc)
        cloud = self.services.cloud
        _attempt(table, "cannot prepare the DynamoDB table", lambda: cloud.table(table, keys))
        item = {k: _dynamo_value(v) for k, v in doc.items()}
        _attempt(table, "DynamoDB PutItem failed",
                 lambda: cloud.client("dynamodb").put_item(TableName=table, Item=item))


class DynamoDB(RuleAction[DynamoDBAction]):
    """Hash (and range) key from the templates, the outgoing payload in ``payloadField`` (default "payload"):
    a JSON payload as a map attribute, a binary one as binary. ``operation`` INSERT/UPDATE put the item,
    DELETE deletes it."""

    def target(self) -> str:
        return self.spec.table_name

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        spec = self.spec
        table = self.render("tableName", m)
        keys = {self.render("hashKeyField", m): _key_value(self.render("hashKeyValue", m), spec.hash_key_type,
                                                           "hashKeyValue")}
        schema = [(self.render("hashKeyField", m), "N" if spec.hash_key_type == "NUMBER" else "S")]
        if spec.range_key_field:
            range_field = self.render("rangeKeyField", m)
            keys[range_field] = _key_value(self.render("rangeKeyValue", m) if spec.range_key_value else "",
                                           spec.range_key_type, "rangeKeyValue")
            schema.append((range_field, "N" if spec.range_key_type == "NUMBER" else "S"))
        operation = (self.render("operation", m) if spec.operation else "INSERT").strip().upper()
        if operation not in ("INSERT", "UPDATE", "DELETE"):
            raise ActionError(f"operation '{operation}' is not INSERT, UPDATE or DELETE", table)
        cloud = self.services.cloud
        _attempt(table, "cannot prepare the DynamoDB table", lambda: cloud.table(table, schema))
        ddb = cloud.client("dynamodb")
        if operation == "DELETE":
            _attempt(table, "DynamoDB DeleteItem failed", lambda: ddb.delete_item(TableName=table, Key=keys))
            return
        field = self.render("payloadField", m) if spec.payload_field else "payload"
        value = {"B": output} if isinstance(output, bytes) else _dynamo_value(json_output(output, "dynamoDB"))
        item = {**keys, field: value}
        _attempt(table, "DynamoDB PutItem failed", lambda: ddb.put_item(TableName=table, Item=item))


class S3Put(RuleAction[S3Action]):
    def target(self) -> str:
        return self.spec.bucket_name

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        bucket, key = self.render("bucketName", m), self.render("key", m)
        problem = bucket_name_problem(bucket)
        if problem:
            raise ActionError(f"S3 bucket name '{bucket}' {problem}", bucket)
        if not key:
            raise ActionError("the S3 object key is empty", bucket)
        cloud = self.services.cloud
        _attempt(bucket, "cannot prepare the S3 bucket", lambda: cloud.bucket(bucket))
        extra = {"ACL": self.spec.canned_acl} if self.spec.canned_acl else {}
        _attempt(bucket, "Failed to put S3 object",
                 lambda: cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=payload, **extra))


def _text(payload: bytes, what: str, resource: str) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ActionError(f"{what} takes text; this payload is binary", resource) from None


class SnsPublish(RuleAction[SnsAction]):
    def target(self) -> str:
        return self.spec.target_arn

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        cloud = self.services.cloud
        arn = _attempt(self.target(), "cannot prepare the SNS topic",
                       lambda: cloud.topic_arn(self.render("targetArn", m)))
        extra = {"MessageStructure": "json"} if self.spec.message_format == "JSON" else {}
        message = _text(payload, "SNS", arn)
        _attempt(arn, "SNS Publish failed", lambda: cloud.client("sns").publish(TopicArn=arn, Message=message,
                                                                                **extra))


class SqsSend(RuleAction[SqsAction]):
    def target(self) -> str:
        return self.spec.queue_url

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        cloud = self.services.cloud
        url = _attempt(self.target(), "cannot prepare the SQS queue",
                       lambda: cloud.queue_url(self.render("queueUrl", m)))
        body = base64.b64encode(payload).decode("ascii") if self.spec.use_base64 else _text(payload, "SQS", url)
        _attempt(url, "SQS SendMessage failed", lambda: cloud.client("sqs").send_message(QueueUrl=url,
                                                                                         MessageBody=body))


class KinesisPut(RuleAction[KinesisAction]):
    def target(self) -> str:
        return self.spec.stream_name

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        cloud, stream = self.services.cloud, self.render("streamName", m)
        key = (self.render("partitionKey", m) if self.spec.partition_key else "") or str(uuid.uuid4())
        _attempt(stream, "cannot prepare the Kinesis stream", lambda: cloud.stream(stream))
        _attempt(stream, "Kinesis PutRecord failed",
                 lambda: cloud.client("kinesis").put_record(StreamName=stream, Data=payload, PartitionKey=key))


class FirehosePut(RuleAction[FirehoseAction]):
    def target(self) -> str:
        return self.spec.delivery_stream_name

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        cloud, name = self.services.cloud, self.render("deliveryStreamName", m)
        data = payload + (self.spec.separator or "").encode("utf-8")
        _attempt(name, "cannot prepare the Firehose stream", lambda: cloud.delivery_stream(name))
        _attempt(name, "Firehose PutRecord failed",
                 lambda: cloud.client("firehose").put_record(DeliveryStreamName=name, Record={"Data": data}))
