"""AWS's rules for names the local cloud creates by itself: S3 bucket names, and the key schema of a DynamoDB
table inferred from the first item or key written to it.

Key schema inference (a table created on first use):

* from a ``Key`` (GetItem, UpdateItem, DeleteItem, BatchGetItem, a DeleteRequest): its attributes are the key;
  with two, the one named like an id is the partition (HASH) key and the other the sort (RANGE) key;
* from an ``Item`` (PutItem, a PutRequest, a transaction's Put): the partition key alone is the first attribute
  named like an id (``id``, ``key``, ``pk``, ``uuid``, ``guid``, or ending in ``_id``/``-id``/``Id``/``ID``,
  ``_key``/``-key``/``Key``) whose type is S, N or B, else the first string attribute, else the first number or
  binary attribute. No sort key is guessed from an item.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_ID_NAMES = {"id", "key", "pk", "uuid", "guid"}
_KEY_TYPES = ("S", "N", "B")


def bucket_name_problem(name: str) -> str | None:
    """Why AWS would refuse ``name`` for a new general-purpose bucket, or None if it is valid."""
    if not 3 <= len(name) <= 63:
        return "bucket names must be between 3 and 63 characters long"
    if not _BUCKET.match(name):
        return ("bucket names may contain only lowercase letters, numbers, dots and hyphens, and must begin and "
                "end with a letter or number")
    if ".." in name or ".-" in name or "-." in name:
        return "bucket names must not contain two adjacent periods or a period next to a hyphen"
    try:
        ipaddress.IPv4Address(name)
        return "bucket names must not be formatted as an IP address"
    except ValueError:
        pass
    if name.startswith(_BAD_PREFIXES) or name.endswith(_BAD_SUFFIXES):
        return "bucket names must not use a prefix or suffix reserved by S3"
    return None


def looks_like_id(name: str) -> bool:
    """True for attribute names like ``id``, ``frame_id``, ``deviceId``, ``key``, ``objectKey``."""
    low = name.lower()
    return (low in _ID_NAMES or low.endswith(("_id", "-id", "_key", "-key"))
            or name.endswith(("Id", "ID", "Key")))


@dataclass(frozen=True)
class KeySchema:
    """A partition key and an optional sort key, each (attribute name, attribute type S/N/B)."""

    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None = None

    def create_table_request(self, table: str) -> dict:
        """The body of a CreateTable request for ``table`` with this key schema (on-demand billing)."""
        keys = [(self.hash_key, "HASH")] + ([(self.range_key, "RANGE")] if self.range_key else [])
        return {
            "TableName": table,
            "KeySchema": [{"AttributeName": n, "KeyType": kind} for (n, _), kind in keys],
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for (n, t), _ in keys],
            "BillingMode": "PAY_PER_REQUEST",
        }

    def describe(self) -> str:
        text = f"partition key {self.hash_key[0]} ({self.hash_key[1]})"
        return text + (f", sort key {self.range_key[0]} ({self.range_key[1]})" if self.range_key else "")


def _typed(attrs: dict) -> list[tuple[str, str]]:
    """(name, type) of the attributes whose DynamoDB type can be a key type, in the order given."""
    out = []
    for name, value in attrs.items():
        if isinstance(value, dict) and len(value) == 1:
            kind = next(iter(value))
            if kind in _KEY_TYPES:
                out.append((name, kind))
    return out


def schema_from_key(key: dict) -> KeySchema | None:
    """The key schema a ``Key`` map reveals (one or two attributes), or None if it is not a valid key."""
    attrs = _typed(key)
    if not attrs or len(attrs) != len(key) or len(attrs) > 2:
        return None
    if len(attrs) == 1:
        return KeySchema(attrs[0])
    first, second = attrs
    if looks_like_id(second[0]) and not looks_like_id(first[0]):
        first, second = second, first
    return KeySchema(first, second)


def schema_from_item(item: dict) -> KeySchema | None:
    """The partition key guessed from a whole item (see the module docstring), or None if none fits."""
    attrs = _typed(item)
    for name, kind in attrs:
        if looks_like_id(name):
            return KeySchema((name, kind))
    for wanted in (("S",), ("N", "B")):
        for name, kind in attrs:
            if kind in wanted:
                return KeySchema((name, kind))
    return None
