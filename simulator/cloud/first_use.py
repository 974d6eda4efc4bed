"""Resources created on first use: when a request fails because the bucket, table, queue, topic or stream it
names does not exist, say what to create (as the user's ``cdk deploy`` would have) so the request can be
replayed. Bucket names AWS would refuse are refused with AWS's error instead.

What counts as "missing": S3 ``NoSuchBucket`` (not for HEAD, which has no error body, nor for DeleteBucket);
DynamoDB ``ResourceNotFoundException`` for a request that reveals a key schema (see :mod:`.naming`; Scan,
Query and DescribeTable do not, so they keep AWS's error); SQS ``QueueDoesNotExist``; SNS ``NotFound`` for a
topic ARN; Kinesis ``ResourceNotFoundException``. Firehose delivery streams are not created: they need a
destination only their owner knows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlparse

from .naming import KeySchema, bucket_name_problem, schema_from_item, schema_from_key
from .wire import Call, Reply

AMZ_JSON = "application/x-amz-json-1.0"
_SQS_HOST = re.compile(r"^(?:sqs\.([a-z0-9-]+)\.amazonaws\.com|([a-z0-9-]+)\.queue\.amazonaws\.com)$")
_SNS_ACTIONS = {"Publish", "PublishBatch", "Subscribe", "GetTopicAttributes", "SetTopicAttributes",
                "ListSubscriptionsByTopic"}
_S3_CREATE = ('<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
              "<LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>")


@dataclass(frozen=True)
class Creation:
    """One request that creates a missing resource, and how to say so in the log."""

    kind: str          # bucket, table, queue, topic, stream
    name: str
    service: str
    region: str
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    detail: str = ""   # e.g. the inferred key schema

    @property
    def already_exists_codes(self) -> tuple[str, ...]:
        """Error codes that mean another request created it meanwhile (fine)."""
        return ("BucketAlreadyOwnedByYou", "ResourceInUseException", "QueueAlreadyExists", "ResourceInUse")


@dataclass(frozen=True)
class Refusal:
    """A name AWS would refuse: answer with this S3 error instead of creating anything."""

    code: str
    message: str
    bucket: str


def _json(kind: str, name: str, service: str, region: str, target: str, body: dict, detail: str = "",
          content_type: str = AMZ_JSON) -> Creation:
    return Creation(kind, name, service, region, "POST", "/", json.dumps(body).encode(),
                    {"X-Amz-Target": target, "Content-Type": content_type}, detail)


def bucket_of(call: Call) -> tuple[str, str]:
    """(bucket, key) of a path-style S3 request ("" where absent)."""
    parts = call.path.lstrip("/").split("/", 1)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def s3_create_bucket(call: Call) -> Refusal | None:
    """A CreateBucket request with a name AWS would refuse (moto accepts some of them)."""
    bucket, key = bucket_of(call)
    if call.service != "s3" or call.method != "PUT" or not bucket or key or call.query:
        return None
    problem = bucket_name_problem(bucket)
    return Refusal("InvalidBucketName", f"The specified bucket is not valid. ({problem})", bucket) if problem else None


def _s3(call: Call, reply: Reply, region: str) -> list[Creation] | Refusal:
    bucket, key = bucket_of(call)
    if reply.code != 404 or reply.error_code() != "NoSuchBucket" or call.method == "HEAD" or not bucket:
        return []
    if call.method == "DELETE" and not key:
        return []
    problem = bucket_name_problem(bucket)
    if problem:
        return Refusal("InvalidBucketName", f"The specified bucket is not valid. ({problem})", bucket)
    body = b"" if region == "us-east-1" else _S3_CREATE.format(region).encode()
    return [Creation("bucket", bucket, "s3", region, "PUT", "/" + quote(bucket), body)]


def _table_schemas(op: str, req: dict) -> dict[str, KeySchema | None]:
    """Tables a DynamoDB request names, each with the key schema the request reveals (None: not revealed)."""
    found: dict[str, KeySchema | None] = {}

    def note(table, schema):
        if isinstance(table, str) and (found.get(table) is None):
            found[table] = schema

    if op == "PutItem":
        note(req.get("TableName"), schema_from_item(req.get("Item") or {}))
    elif op in ("GetItem", "UpdateItem", "DeleteItem"):
        note(req.get("TableName"), schema_from_key(req.get("Key") or {}))
    elif op == "BatchWriteItem":
        for table, writes in (req.get("RequestItems") or {}).items():
            for w in writes or []:
                if "PutRequest" in w:
                    note(table, schema_from_item(w["PutRequest"].get("Item") or {}))
                elif "DeleteRequest" in w:
                    note(table, schema_from_key(w["DeleteRequest"].get("Key") or {}))
    elif op == "BatchGetItem":
        for table, spec in (req.get("RequestItems") or {}).items():
            keys = (spec or {}).get("Keys") or [{}]
            note(table, schema_from_key(keys[0]))
    elif op in ("TransactWriteItems", "TransactGetItems"):
        for entry in req.get("TransactItems") or []:
            for kind, spec in (entry or {}).items():
                spec = spec or {}
                schema = schema_from_item(spec.get("Item") or {}) if kind == "Put" else \
                    schema_from_key(spec.get("Key") or {})
                note(spec.get("TableName"), schema)
    return found


def _dynamodb(call: Call, reply: Reply, region: str) -> list[Creation]:
    if reply.error_code() != "ResourceNotFoundException":
        return []
    out = []
    for table, schema in _table_schemas(call.target, call.json()).items():
        if schema is not None:
            out.append(_json("table", table, "dynamodb", region, "DynamoDB_20120810.CreateTable",
                             schema.create_table_request(table), schema.describe()))
    return out


def _sqs(call: Call, reply: Reply, region: str) -> list[Creation]:
    if reply.error_code() not in ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue") or \
            call.target == "DeleteQueue":
        return []
    req = call.json()
    name = req.get("QueueName")
    if not name and isinstance(req.get("QueueUrl"), str):
        url = urlparse(req["QueueUrl"])
        name = url.path.rstrip("/").rsplit("/", 1)[-1] or None
        host = _SQS_HOST.match(url.hostname or "")
        if host:
            region = host.group(1) or host.group(2)
    if not isinstance(name, str) or not name:
        return []
    body: dict = {"QueueName": name}
    if name.endswith(".fifo"):
        body["Attributes"] = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    return [_json("queue", name, "sqs", region, "AmazonSQS.CreateQueue", body)]


def topic_arn_parts(arn: str) -> tuple[str, str] | None:
    """(region, topic name) of an SNS topic ARN."""
    parts = arn.split(":")
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "sns" and parts[5]:
        return parts[3], parts[5]
    return None


def _sns(call: Call, reply: Reply, region: str) -> list[Creation]:
    form = call.form()
    if reply.error_code() != "NotFound" or form.get("Action") not in _SNS_ACTIONS:
        return []
    parsed = topic_arn_parts(form.get("TopicArn") or form.get("TargetArn") or "")
    if not parsed:
        return []
    topic_region, name = parsed
    fields = {"Action": "CreateTopic", "Name": name, "Version": "2010-03-31"}
    if name.endswith(".fifo"):
        fields |= {"Attributes.entry.1.key": "FifoTopic", "Attributes.entry.1.value": "true"}
    body = "&".join(f"{k}={quote(v, safe='')}" for k, v in fields.items()).encode()
    return [Creation("topic", name, "sns", topic_region or region, "POST", "/", body,
                     {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})]


def _kinesis(call: Call, reply: Reply, region: str) -> list[Creation]:
    if reply.error_code() != "ResourceNotFoundException" or call.target in ("DeleteStream", "CreateStream"):
        return []
    req = call.json()
    name = req.get("StreamName")
    arn = req.get("StreamARN")
    if not name and isinstance(arn, str) and ":stream/" in arn:
        name = arn.split(":stream/", 1)[1]
    if not isinstance(name, str) or not name:
        return []
    return [_json("stream", name, "kinesis", region, "Kinesis_20131202.CreateStream",
                  {"StreamName": name, "ShardCount": 1}, content_type="application/x-amz-json-1.1")]


_HANDLERS = {"s3": _s3, "dynamodb": _dynamodb, "sqs": _sqs, "sns": _sns, "kinesis": _kinesis}


def creations_for(call: Call, reply: Reply, default_region: str) -> list[Creation] | Refusal:
    """What to create so that ``call`` (which got ``reply``) can succeed; [] when the reply is not about a
    missing resource or nothing can be created for it."""
    handler = _HANDLERS.get(call.service or "")
    if handler is None or reply.code < 400:
        return []
    return handler(call, reply, call.region or default_region)
