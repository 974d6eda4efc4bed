"""Rule actions: republish, lambda, the AWS services (through boto3), http, and the local file/sqlite sinks."""

from __future__ import annotations

from typing import Any

from simulator.rules.actions.aws import DynamoDB, DynamoDBv2, FirehosePut, KinesisPut, S3Put, SnsPublish, SqsSend
from simulator.rules.actions.base import FAILED_ACTION, ActionError, RuleAction, Services
from simulator.rules.actions.cloud import LocalCloud
from simulator.rules.actions.lambdas import LambdaInvoke, LambdaPool
from simulator.rules.actions.local import FileSink, SqliteSink
from simulator.rules.actions.mqtt import Republish
from simulator.rules.actions.web import HttpPost
from simulator.rules.plan import ActionPlan

_KINDS: dict[str, type[RuleAction[Any]]] = {
    "republish": Republish, "lambda": LambdaInvoke, "dynamoDBv2": DynamoDBv2, "dynamoDB": DynamoDB, "s3": S3Put,
    "sns": SnsPublish, "sqs": SqsSend, "kinesis": KinesisPut, "firehose": FirehosePut, "http": HttpPost,
    "file": FileSink, "sqlite": SqliteSink,
}


def build_action(plan: ActionPlan, services: Services) -> RuleAction[Any]:
    return _KINDS[plan.kind](plan, services)


__all__ = ["FAILED_ACTION", "ActionError", "LambdaPool", "LocalCloud", "RuleAction", "Services", "build_action"]
