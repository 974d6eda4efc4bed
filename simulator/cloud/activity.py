"""What the run sent through the local cloud: SNS publishes and SQS sends (bounded per topic and queue, and
SNS publishes also appended to a JSON Lines file as they happen), the keys of DynamoDB writes (so the snapshot
can show a table's latest items), the regions requests used; IoT data-plane publishes are handed to a
callback."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs

from .snapshot import SentMessage
from .wire import Call, Reply

_SNS_ATTR = re.compile(r"^MessageAttributes\.entry\.(\d+)\.(Name|Value\.StringValue|Value\.BinaryValue)$")
_SNS_BATCH = re.compile(r"^PublishBatchRequestEntries\.member\.(\d+)\.(.+)$")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _sns_attributes(fields: dict[str, str]) -> dict[str, str]:
    entries: dict[str, dict[str, str]] = {}
    for key, value in fields.items():
        m = _SNS_ATTR.match(key)
        if m:
            entries.setdefault(m.group(1), {})[m.group(2)] = value
    return {e["Name"]: e.get("Value.StringValue", e.get("Value.BinaryValue", "")) for e in entries.values()
            if "Name" in e}


def _sqs_attributes(attrs: dict | None) -> dict[str, str]:
    return {name: str(v.get("StringValue", v.get("BinaryValue", ""))) for name, v in (attrs or {}).items()
            if isinstance(v, dict)}


class Activity:
    """Thread-safe record of what the run sent; ``per_target`` messages kept per topic/queue, ``per_table``
    written keys kept per table."""

    def __init__(self, sns_log: Path | None = None, per_target: int = 100, per_table: int = 200) -> None:
        self._lock = threading.Lock()
        self._messages: dict[tuple[str, str, str], deque[SentMessage]] = {}
        self._writes: dict[tuple[str, str], OrderedDict[str, dict]] = {}
        self._per_target = per_target
        self._per_table = per_table
        self._sns_log = sns_log
        self.regions: set[str] = set()
        # Called with (topic, payload, qos) for every IoT data-plane Publish (e.g. to hand it to the MQTT broker).
        self.iot_publish: Callable[[str, bytes, int], None] | None = None

    # --- recording ------------------------------------------------------------------------------------

    def record(self, call: Call, reply: Reply) -> None:
        """Note a successful call (``reply`` is 2xx)."""
        if call.region:
            self.regions.add(call.region)
        if call.service == "sns" and call.form().get("Action") in ("Publish", "PublishBatch"):
            self._sns(call, reply)
        elif call.service == "sqs" and call.target in ("SendMessage", "SendMessageBatch"):
            self._sqs(call, reply)
        elif call.service == "dynamodb" and call.target in ("PutItem", "UpdateItem", "BatchWriteItem",
                                                            "TransactWriteItems"):
            self._dynamodb(call)
        elif call.service == "iotdata" and call.method == "POST" and call.path.startswith("/topics/") and \
                self.iot_publish is not None:
            qos = parse_qs(call.query).get("qos", ["0"])[0]
            self.iot_publish(call.path[len("/topics/"):], call.body, int(qos) if qos.isdigit() else 0)

    def add(self, message: SentMessage, persist: bool = True) -> None:
        """Keep a message for the snapshot (and append an SNS message to the log file)."""
        with self._lock:
            key = (message.service, message.region, message.target)
            self._messages.setdefault(key, deque(maxlen=self._per_target)).append(message)
            if persist and message.service == "sns" and self._sns_log is not None:
                self._sns_log.parent.mkdir(parents=True, exist_ok=True)
                with open(self._sns_log, "a", encoding="utf-8") as fh:
                    fh.write(message.model_dump_json() + "\n")

    def _sns(self, call: Call, reply: Reply) -> None:
        fields = call.form()
        region = call.region or ""
        text = reply.body().decode("utf-8", "replace")
        if fields.get("Action") == "Publish":
            match = re.search(r"<MessageId>([^<]+)</MessageId>", text)
            target = fields.get("TopicArn") or fields.get("TargetArn") or fields.get("PhoneNumber") or ""
            self.add(SentMessage(service="sns", target=target, region=region,
                                 message_id=match.group(1) if match else "", body=fields.get("Message", ""),
                                 subject=fields.get("Subject"), attributes=_sns_attributes(fields),
                                 group_id=fields.get("MessageGroupId"), sent_at=_now()))
            return
        ids = dict(re.findall(r"<Id>([^<]+)</Id>\s*<MessageId>([^<]+)</MessageId>", text))
        ids.update((b, a) for a, b in re.findall(r"<MessageId>([^<]+)</MessageId>\s*<Id>([^<]+)</Id>", text))
        entries: dict[str, dict[str, str]] = {}
        for key, value in fields.items():
            m = _SNS_BATCH.match(key)
            if m:
                entries.setdefault(m.group(1), {})[m.group(2)] = value
        for entry in entries.values():
            if entry.get("Id") in ids:
                self.add(SentMessage(service="sns", target=fields.get("TopicArn", ""), region=region,
                                     message_id=ids[entry["Id"]], body=entry.get("Message", ""),
                                     subject=entry.get("Subject"), attributes=_sns_attributes(entry),
                                     group_id=entry.get("MessageGroupId"), sent_at=_now()))

    def _sqs(self, call: Call, reply: Reply) -> None:
        req = call.json()
        try:
            answer = json.loads(reply.body() or b"{}")
        except ValueError:
            return
        queue = str(req.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
        if call.target == "SendMessage":
            entries = [(req, answer.get("MessageId", ""))]
        else:
            ids = {s.get("Id"): s.get("MessageId", "") for s in answer.get("Successful", [])}
            entries = [(e, ids[e.get("Id")]) for e in req.get("Entries", []) if e.get("Id") in ids]
        for entry, message_id in entries:
            self.add(SentMessage(service="sqs", target=queue, region=call.region or "", message_id=message_id,
                                 body=str(entry.get("MessageBody", "")),
                                 attributes=_sqs_attributes(entry.get("MessageAttributes")),
                                 group_id=entry.get("MessageGroupId"), sent_at=_now()))

    def _dynamodb(self, call: Call) -> None:
        req = call.json()
        written: list[tuple[object, dict]] = []  # (table name as the request gave it, attributes)
        if call.target == "PutItem":
            written.append((req.get("TableName"), req.get("Item") or {}))
        elif call.target == "UpdateItem":
            written.append((req.get("TableName"), req.get("Key") or {}))
        elif call.target == "BatchWriteItem":
            for table, writes in (req.get("RequestItems") or {}).items():
                written += [(table, w["PutRequest"].get("Item") or {}) for w in writes or [] if "PutRequest" in w]
        else:
            for entry in req.get("TransactItems") or []:
                for kind, spec in (entry or {}).items():
                    if kind in ("Put", "Update") and isinstance(spec, dict):
                        written.append((spec.get("TableName"), spec.get("Item") or spec.get("Key") or {}))
        with self._lock:
            for table, attrs in written:
                if isinstance(table, str) and attrs:
                    recent = self._writes.setdefault((call.region or "", table), OrderedDict())
                    marker = json.dumps(attrs, sort_keys=True)
                    recent.pop(marker, None)
                    recent[marker] = attrs
                    while len(recent) > self._per_table:
                        recent.popitem(last=False)

    # --- reading --------------------------------------------------------------------------------------

    def messages(self, service: str, region: str, target: str) -> tuple[SentMessage, ...]:
        """Messages kept for one topic ARN or queue name, newest first."""
        with self._lock:
            return tuple(reversed(self._messages.get((service, region, target), ())))

    def written(self, region: str, table: str) -> list[dict]:
        """Attributes (whole items, or keys) of the latest writes to a table, newest first."""
        with self._lock:
            return list(reversed(self._writes.get((region, table), {}).values()))

    def load_sns_log(self, limit: int = 1000) -> int:
        """Keep the last ``limit`` messages of the SNS log file (from earlier runs) for the snapshot."""
        if self._sns_log is None or not self._sns_log.is_file():
            return 0
        with open(self._sns_log, encoding="utf-8") as fh:
            lines = deque(fh, maxlen=limit)
        count = 0
        for line in lines:
            try:
                self.add(SentMessage.model_validate_json(line), persist=False)
                count += 1
            except ValueError:
                continue
        return count
