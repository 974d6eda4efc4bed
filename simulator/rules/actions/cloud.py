"""boto3 clients for the AWS actions, and the local cloud's missing resources created on first use.

Clients take their endpoint, keys and region from the engine's environment (``AWS_ENDPOINT_URL``, or a
service's own ``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_ACCESS_KEY_ID``, ``AWS_DEFAULT_REGION``...). When that
environment says the cloud is local (``DEEPLENS_SIM_CLOUD=local`` and an endpoint URL), a bucket, table, queue,
topic or stream that a rule names is created the first time it is used — as ``cdk deploy`` would have made it —
and said once in the log. Against any other endpoint nothing is ever created.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

log = logging.getLogger("rules.cloud")

_NOT_FOUND = {"404", "NoSuchBucket", "NotFound", "ResourceNotFoundException",
              "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _NOT_FOUND


class LocalCloud:
    """One boto3 session and its clients (thread-safe), plus the create-on-first-use of local resources."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.region = self.env.get("AWS_DEFAULT_REGION") or self.env.get("AWS_REGION") or "us-east-1"
        self.local = self.env.get("DEEPLENS_SIM_CLOUD") == "local" and bool(self.env.get("AWS_ENDPOINT_URL"))
        self._session = boto3.session.Session(
            aws_access_key_id=self.env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.env.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=self.env.get("AWS_SESSION_TOKEN"), region_name=self.region)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._making = threading.RLock()
        self._ready: dict[tuple[str, str], Any] = {}

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                key = "AWS_ENDPOINT_URL_" + re.sub(r"[^A-Z0-9]", "_", service.upper())
                endpoint = self.env.get(key) or self.env.get("AWS_ENDPOINT_URL")
                config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3,
                                read_timeout=10, s3={"addressing_style": "path"} if endpoint else None)
                self._clients[service] = self._session.client(service, endpoint_url=endpoint, config=config)
            return self._clients[service]

    def _once(self, kind: str, name: str, make: Callable[[], Any]) -> Any:
        """``make()`` the first time (kind, name) is used; its answer is kept (a queue URL, a topic ARN)."""
        key = (kind, name)
        if key not in self._ready:
            with self._making:  # creations are rare: one at a time
                if key not in self._ready:
                    self._ready[key] = make()
        return self._ready[key]

    # -- resources a rule names ------------------------------------------------------------------------------
    def bucket(self, name: str) -> None:
        if not self.local:
            return

        def make() -> None:
            s3 = self.client("s3")
            try:
                s3.head_bucket(Bucket=name)
            except ClientError as exc:
                if not not_found(exc):
                    raise
                extra = {} if self.region == "us-east-1" else \
                    {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
                s3.create_bucket(Bucket=name, **extra)
                log.info("created S3 bucket %s in the local cloud", name)
        self._once("s3", name, make)

    def table(self, name: str, keys: list[tuple[str, str]]) -> None:
        """``keys``: [(attribute, "S"|"N")], the partition key first, then the sort key if any."""
        if not self.local:
            return

        def make() -> None:
            ddb = self.client("dynamodb")
            try:
                ddb.describe_table(TableName=name)
                return
            except ClientError as exc:
                if not not_found(exc):
                    raise
            ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in keys],
                             KeySchema=[{"AttributeName": k, "KeyType": role}
                                        for (k, _), role in zip(keys, ("HASH", "RANGE"), strict=False)])
            self._wait(lambda: ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE")
            log.info("created DynamoDB table %s (key %s) in the local cloud", name, ", ".join(k for k, _ in keys))
        self._once("dynamodb", name, make)

    def queue_url(self, url: str) -> str:
        """The URL to send to: the queue named by the last part of ``url``, created if missing (local only)."""
        if not self.local:
            return url
        name = url.rstrip("/").rsplit("/", 1)[-1]

        def make() -> str:
            sqs = self.client("sqs")
            try:
                return sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except ClientError as exc:
                if not not_found(exc):
                    raise
            log.info("created SQS queue %s in the local cloud", name)
            return sqs.create_queue(QueueName=name)["QueueUrl"]
        return self._once("sqs", name, make)

    def topic_arn(self, arn: str) -> str:
        if not self.local:
            return arn
        name = arn.rsplit(":", 1)[-1]

        def make() -> str:
            sns = self.client("sns")
            known = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]
            found = next((t for t in known if t.rsplit(":", 1)[-1] == name), None)
            if found:
                return found
            log.info("created SNS topic %s in the local cloud", name)
            return sns.create_topic(Name=name)["TopicArn"]
        return self._once("sns", name, make)

    def stream(self, name: str) -> None:
        if not self.local:
            return

        def make() -> None:
            kinesis = self.client("kinesis")
            try:
                kinesis.describe_stream_summary(StreamName=name)
                return
            except ClientError as exc:
                if not not_found(exc):
                    raise
            kinesis.create_stream(StreamName=name, ShardCount=1)
            self._wait(lambda: kinesis.describe_stream_summary(StreamName=name)
                       ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE")
            log.info("created Kinesis stream %s in the local cloud", name)
        self._once("kinesis", name, make)

    def delivery_stream(self, name: str) -> None:
        """A Firehose stream delivering to the S3 bucket ``deeplens-sim-firehose-<name>`` (made as needed)."""
        if not self.local:
            return

        def make() -> None:
            firehose = self.client("firehose")
            try:
                firehose.describe_delivery_stream(DeliveryStreamName=name)
                return
            except ClientError as exc:
                if not not_found(exc):
                    raise
            bucket = re.sub(r"[^a-z0-9-]", "-", f"deeplens-sim-firehose-{name}".lower())[:63].strip("-")
            self.bucket(bucket)
            firehose.create_delivery_stream(
                DeliveryStreamName=name, DeliveryStreamType="DirectPut",
                ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/deeplens-sim",
                                                    "BucketARN": f"arn:aws:s3:::{bucket}"})
            log.info("created Firehose delivery stream %s (to S3 bucket %s) in the local cloud", name, bucket)
        self._once("firehose", name, make)

    @staticmethod
    def _wait(ready: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutError("the local cloud did not make the resource ready in time")
            time.sleep(0.1)
