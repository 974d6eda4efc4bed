"""The ``republish`` action: publish the outgoing payload through the engine's own MQTT link."""

from __future__ import annotations

import time
from typing import Any

from simulator.rules.actions.base import ActionError, RuleAction
from simulator.rules.schema import RepublishAction
from simulator.rules.sql.message import Message

ROOM_WAIT_S = 5.0  # how long a republish waits for room in the link's bounded outgoing queue


class Republish(RuleAction[RepublishAction]):
    """``{"republish": {"topic": ..., "qos": 0|1}}``; MQTT 5 ``headers`` are not carried (MQTT 3.1.1 brokers).

    When the link's outgoing queue is full the rule's worker waits for room (up to ``ROOM_WAIT_S``): a rule that
    republishes faster than the broker takes slows down, and its own bounded queue drops and counts the excess.
    """

    def target(self) -> str:
        return self.spec.topic

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        topic = self.render("topic", m)
        if not topic or "#" in topic or "+" in topic:
            raise ActionError(f"cannot republish to topic '{topic}'", topic)
        deadline = None
        while not self.services.publish(topic, payload, self.spec.qos):
            now = time.monotonic()
            deadline = deadline or now + ROOM_WAIT_S
            if now > deadline:
                raise ActionError(f"the MQTT link had no room for {ROOM_WAIT_S:g} s; message to '{topic}' "
                                  "not republished", topic)
            time.sleep(0.002)
