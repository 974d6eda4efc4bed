"""DynamoDB tables kept as ``dynamodb/<region>/<table>.json``: the CreateTable fields (key schema, attribute
definitions, indexes) and every item in DynamoDB JSON, binary values base64-encoded as on the wire. Tables are
re-created with on-demand billing."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

from .stored import TableRecord, read_json_model, write_json

log = logging.getLogger(__name__)

_INDEX_FIELDS = ("IndexName", "KeySchema", "Projection")


def _to_wire(value: Any) -> Any:
    """A botocore attribute value (bytes for B/BS) as DynamoDB JSON (base64 text)."""
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_wire(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    return value


def _from_wire(value: Any, kind: str | None = None) -> Any:
    """DynamoDB JSON back to botocore's form (B/BS as bytes)."""
    if isinstance(value, dict):
        return {k: _from_wire(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_wire(v, "B" if kind == "BS" else None) for v in value]
    if kind == "B" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def export_tables(dynamodb_for_region, regions: set[str], state_dir: Path) -> int:
    """Write every table of ``regions``; removes files of tables that no longer exist. Returns tables written."""
    count = 0
    for region in sorted(regions):
        ddb = dynamodb_for_region(region)
        folder = state_dir / "dynamodb" / region
        names = [n for page in ddb.get_paginator("list_tables").paginate() for n in page.get("TableNames", [])]
        for name in names:
            desc = ddb.describe_table(TableName=name)["Table"]
            items = [_to_wire(item) for page in ddb.get_paginator("scan").paginate(TableName=name)
                     for item in page.get("Items", [])]
            record = TableRecord(
                TableName=name, KeySchema=desc["KeySchema"], AttributeDefinitions=desc["AttributeDefinitions"],
                GlobalSecondaryIndexes=[{k: i[k] for k in _INDEX_FIELDS if k in i}
                                        for i in desc.get("GlobalSecondaryIndexes", [])],
                LocalSecondaryIndexes=[{k: i[k] for k in _INDEX_FIELDS if k in i}
                                       for i in desc.get("LocalSecondaryIndexes", [])],
                Items=items)
            write_json(folder / f"{name}.json", record)
            count += 1
        if folder.is_dir():
            for path in folder.glob("*.json"):
                if path.stem not in names:
                    path.unlink()
    return count


def import_tables(dynamodb_for_region, state_dir: Path) -> tuple[int, set[str]]:
    """Create the tables found under ``state_dir`` and write their items. Returns (tables, regions seen)."""
    root = state_dir / "dynamodb"
    if not root.is_dir():
        return 0, set()
    count, regions = 0, set()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        region = folder.name
        regions.add(region)
        ddb = dynamodb_for_region(region)
        for path in sorted(folder.glob("*.json")):
            record = read_json_model(path, TableRecord)
            request: dict[str, Any] = record.model_dump(include={"TableName", "KeySchema", "AttributeDefinitions"})
            for field in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                if getattr(record, field):
                    request[field] = getattr(record, field)
            ddb.create_table(BillingMode="PAY_PER_REQUEST", **request)
            _write_items(ddb, record.TableName, [_from_wire(item) for item in record.Items])
            count += 1
    return count, regions


def _write_items(ddb, table: str, items: list[dict]) -> None:
    for start in range(0, len(items), 25):
        pending = {table: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]}
        for _ in range(10):
            left = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not left:
                break
            pending = left
        else:
            log.warning("%s: some items were not written back", table)
