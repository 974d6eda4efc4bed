"""What every rule action shares: the services the engine lends it, its failure type, its status name."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from pydantic import BaseModel

from simulator.rules.plan import ActionPlan
from simulator.rules.sql.message import Message
from simulator.rules.sql.values import UNDEFINED, dumps

if TYPE_CHECKING:
    from simulator.rules.actions.cloud import LocalCloud
    from simulator.rules.actions.lambdas import LambdaPool

# The names AWS IoT puts in an error action's "failedAction" (its API type names)
FAILED_ACTION = {"republish": "RepublishAction", "lambda": "LambdaAction", "dynamoDBv2": "DynamoDBv2Action",
                 "dynamoDB": "DynamoDBAction", "s3": "S3Action", "sns": "SnsAction", "sqs": "SqsAction",
                 "kinesis": "KinesisAction", "firehose": "FirehoseAction", "http": "HttpAction",
                 "file": "FileAction", "sqlite": "SqliteAction"}


class ActionError(Exception):
    """An action could not deliver a message; ``resource`` is what it wrote to (bucket, table, topic...)."""

    def __init__(self, message: str, resource: str = "") -> None:
        super().__init__(message)
        self.resource = resource


@dataclass(frozen=True)
class Services:
    """What the engine lends its actions."""

    env: Mapping[str, str]
    work_dir: Path
    publish: Callable[[str, bytes, int], bool]  # (topic, payload, qos) -> queued
    cloud: LocalCloud
    lambdas: LambdaPool


S = TypeVar("S", bound=BaseModel)


class RuleAction(Generic[S]):
    """One action of one rule, ready to run on the rule's worker thread; ``spec`` is its AWS shape."""

    def __init__(self, plan: ActionPlan, services: Services) -> None:
        self.plan = plan
        self.services = services
        self.spec: S = cast(S, plan.spec)

    @property
    def kind(self) -> str:
        return self.plan.kind

    @property
    def failed_action(self) -> str:
        return FAILED_ACTION[self.plan.kind]

    def target(self) -> str:
        """What the action writes to, as written in the rule (templates unexpanded)."""
        return ""

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        """Deliver one outgoing payload; raise ActionError when it cannot."""
        raise NotImplementedError

    def close(self) -> None:
        """Release files, connections, processes."""

    def render(self, dotted: str, m: Message) -> str:
        return self.plan.render(dotted, m)


def json_output(output: Any, what: str) -> Any:
    """The outgoing payload as a JSON value; a binary payload cannot go where JSON is required."""
    if isinstance(output, bytes):
        raise ActionError(f"the {what} action needs a JSON payload, this message is binary "
                           "(select encode(*, 'base64') AS data to pass it on)")
    return None if output is UNDEFINED else output


def json_line(output: Any) -> str:
    """One JSON document for a line-oriented sink; binary payloads become {"base64Payload": ...}."""
    if isinstance(output, bytes):
        return dumps({"base64Payload": base64.b64encode(output).decode("ascii")})
    return dumps(None if output is UNDEFINED else output)
