"""The ``http`` action: POST the outgoing payload to a URL with the rule's headers.

As a local stand-in it skips AWS's destination confirmation, allows plain ``http://`` URLs, and sends every
message on its own (``enableBatching`` is not applied); ``auth`` (SigV4) is not applied either.
"""

from __future__ import annotations

from typing import Any

import requests

from simulator.rules.actions.base import ActionError, RuleAction
from simulator.rules.schema import HttpAction
from simulator.rules.sql.message import Message

TIMEOUT_S = 3.0


class HttpPost(RuleAction[HttpAction]):
    def target(self) -> str:
        return self.spec.url

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        url = self.render("url", m)
        headers = {"Content-Type": "application/octet-stream" if isinstance(output, bytes) else "application/json"}
        for i, header in enumerate(self.spec.headers or []):
            headers[header.key] = self.render(f"headers.{i}.value", m)
        try:
            reply = requests.post(url, data=payload, headers=headers, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            raise ActionError(f"HTTP POST to {url} failed: {exc}", url) from None
        if not 200 <= reply.status_code < 300:
            raise ActionError(f"HTTP POST to {url} answered {reply.status_code} {reply.reason}", url)
