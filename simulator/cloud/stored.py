"""The files the local cloud keeps under its state folder, as strict models (a bad file is one clear error
naming file, line and field), and atomic writes.

Layout of ``state_dir``::

    s3/<bucket>/<key>                  object bytes (drop files here to seed a bucket)
    s3-keys/<bucket>/<sha256 of key>   objects whose key is no safe file path (see s3.json)
    s3.json                            per bucket: region; per object: file, ETag, content type, metadata
    dynamodb/<region>/<table>.json     key schema, indexes and items (DynamoDB JSON, as CreateTable + Scan)
    sns/topics.json                    topics and their subscriptions
    sns/messages.jsonl                 every message published (appended as it happens)
    sqs/queues.json                    queues and their attributes
    sqs/messages.jsonl                 messages not yet consumed when the cloud stopped
    kinesis/streams.json               stream names and shard counts (records are not kept)
    rekognition/collections/<id>.json  face collections (face records and embeddings)
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..configfile import load_yaml_model
from ..errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ObjectRecord(_Strict):
    file: str
    etag: str = ""
    content_type: str | None = None
    metadata: dict[str, str] = {}


class BucketRecord(_Strict):
    region: str
    objects: dict[str, ObjectRecord] = {}


class S3Manifest(_Strict):
    buckets: dict[str, BucketRecord] = {}


class KeyElement(_Strict):
    AttributeName: str
    KeyType: str


class AttributeDefinition(_Strict):
    AttributeName: str
    AttributeType: str


class TableRecord(_Strict):
    """A table as a CreateTable request plus its items in DynamoDB JSON (binary values base64-encoded)."""

    TableName: str
    KeySchema: list[KeyElement]
    AttributeDefinitions: list[AttributeDefinition]
    GlobalSecondaryIndexes: list[dict[str, Any]] = []
    LocalSecondaryIndexes: list[dict[str, Any]] = []
    Items: list[dict[str, Any]] = []


class Subscription(_Strict):
    protocol: str
    endpoint: str


class TopicRecord(_Strict):
    region: str
    name: str
    attributes: dict[str, str] = {}
    subscriptions: list[Subscription] = []


class Topics(_Strict):
    topics: list[TopicRecord] = []


class QueueRecord(_Strict):
    region: str
    name: str
    attributes: dict[str, str] = {}


class Queues(_Strict):
    queues: list[QueueRecord] = []


class QueuedMessage(_Strict):
    """An SQS message not yet consumed (one line of sqs/messages.jsonl)."""

    region: str
    queue: str
    body: str
    attributes: dict[str, dict[str, str]] = {}   # name -> {DataType, StringValue | BinaryValue (base64)}
    group_id: str | None = None
    deduplication_id: str | None = None
    sent_at: datetime | None = None


class StreamRecord(_Strict):
    region: str
    name: str
    shards: int = Field(default=1, ge=1)


class Streams(_Strict):
    streams: list[StreamRecord] = []


def read_json_model(path: Path, model: type[M]) -> M:
    """Read a JSON file into ``model``; a bad file raises ConfigError naming file, line and field."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return model.model_validate(data)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read file: {exc.strerror or exc}") from exc
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise ConfigError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
        if not isinstance(exc, ValidationError):
            raise
    return load_yaml_model(path, model)  # JSON is YAML: this names the line of the bad field


def read_jsonl(path: Path, model: type[M]) -> list[M]:
    """Every line of a JSON Lines file as ``model``; a bad line raises ConfigError naming file, line and field."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(model.model_validate_json(line))
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(p) for p in err["loc"]) or "(line)"
                msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
                raise ConfigError(f"{path}:{number}: field '{field}': {msg}") from None
    return out


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, model: BaseModel) -> None:
    write_atomic(path, (model.model_dump_json(indent=1, exclude_defaults=False) + "\n").encode())
