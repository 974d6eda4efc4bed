"""One MQTT message as the rules engine sees it: topic, raw payload, arrival time, decoded document."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from simulator.rules.sql.values import decode_payload


@dataclass
class Message:
    """A message that reached the engine. ``client_id`` is "n/a" when the publisher's id is not known: an MQTT
    3.1.1 broker does not pass it on to subscribers (AWS IoT answers "n/a" the same way)."""

    topic: str
    payload: bytes
    received_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    client_id: str = "n/a"

    @cached_property
    def _decoded(self) -> tuple[bool, Any]:
        return decode_payload(self.payload)

    @property
    def is_json(self) -> bool:
        return self._decoded[0]

    @property
    def document(self) -> Any:
        """The JSON document, or the raw bytes of a binary payload."""
        return self._decoded[1]

    @cached_property
    def trace_id(self) -> str:
        return str(uuid.uuid4())


@dataclass(frozen=True)
class Payload:
    """``*`` given as a function argument: the whole payload (``encode(*, 'base64')`` encodes its raw bytes)."""

    message: Message

    @property
    def value(self) -> Any:
        return self.message.document
