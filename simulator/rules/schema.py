"""What a rules file may hold: AWS IoT's own TopicRule / TopicRulePayload shapes, field for field, plus two
local sinks (``file``, ``sqlite``) and the ``functions:`` map of local Lambda handlers.

Field names are those of the AWS IoT API (``aws iot get-topic-rule`` prints them), so rules are pasted as they
are. ``roleArn`` is accepted and ignored (there is no IAM locally). Unknown keys are refused.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel


class _Shape(BaseModel):
    """Python names in snake_case, read and written under AWS's camelCase names only."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=False)


class UserProperty(_Shape):
    key: str
    value: str


class MqttHeaders(_Shape):
    """MQTT 5 headers of a republish: accepted; the simulator's brokers speak MQTT 3.1.1 and do not carry them."""

    payload_format_indicator: str | None = None
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: str | None = None
    message_expiry: str | None = None
    user_properties: list[UserProperty] | None = None


class RepublishAction(_Shape):
    topic: str
    qos: Literal[0, 1] = 0
    headers: MqttHeaders | None = None
    role_arn: str | None = None


class PutItemInput(_Shape):
    table_name: str


class DynamoDBv2Action(_Shape):
    put_item: PutItemInput
    role_arn: str | None = None


class DynamoDBAction(_Shape):
    table_name: str
    hash_key_field: str
    hash_key_value: str
    hash_key_type: Literal["STRING", "NUMBER"] | None = None
    range_key_field: str | None = None
    range_key_value: str | None = None
    range_key_type: Literal["STRING", "NUMBER"] | None = None
    payload_field: str | None = None
    operation: str | None = None
    role_arn: str | None = None


class LambdaAction(_Shape):
    function_arn: str


class S3Action(_Shape):
    bucket_name: str
    key: str
    canned_acl: Literal["private", "public-read", "public-read-write", "aws-exec-read", "authenticated-read",
                       "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write"] | None = None
    role_arn: str | None = None


class SnsAction(_Shape):
    target_arn: str
    message_format: Literal["RAW", "JSON"] | None = None
    role_arn: str | None = None


class SqsAction(_Shape):
    queue_url: str
    use_base64: bool | None = None
    role_arn: str | None = None


class KinesisAction(_Shape):
    stream_name: str
    partition_key: str | None = None
    role_arn: str | None = None


class FirehoseAction(_Shape):
    delivery_stream_name: str
    separator: Literal["\n", "\t", "\r\n", ","] | None = None
    batch_mode: bool | None = None
    role_arn: str | None = None


class HttpActionHeader(_Shape):
    key: str
    value: str


class SigV4Authorization(_Shape):
    signing_region: str
    service_name: str
    role_arn: str


class HttpAuthorization(_Shape):
    sigv4: SigV4Authorization | None = None


class BatchConfig(_Shape):
    max_batch_open_ms: int | None = None
    max_batch_size: int | None = None
    max_batch_size_bytes: int | None = None
    batch_across_topics: bool | None = None


class HttpAction(_Shape):
    """POSTs each outgoing payload; ``auth``, ``confirmationUrl`` and batching are accepted and not applied."""

    url: str
    headers: list[HttpActionHeader] | None = None
    confirmation_url: str | None = None
    auth: HttpAuthorization | None = None
    enable_batching: bool | None = None
    batch_config: BatchConfig | None = None


class FileAction(_Shape):
    """Local sink (not an AWS action): appends each outgoing payload as one JSON line to ``path``."""

    path: str = Field(min_length=1)


class SqliteAction(_Shape):
    """Local sink (not an AWS action): one row per message, one column per selected field."""

    database: str = Field(min_length=1)
    table: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @field_validator("database")
    @classmethod
    def _one_database(cls, database: str) -> str:
        if "${" in database:
            raise ValueError("substitution templates are not supported here (one database per action); put the "
                             "varying part in a column, or use a table per rule")
        return database


ACTION_KINDS = ("republish", "lambda", "dynamoDBv2", "dynamoDB", "s3", "sns", "sqs", "kinesis", "firehose",
                "http", "file", "sqlite")
# AWS IoT actions that exist but that the simulator does not run: named clearly instead of "unknown field"
AWS_ONLY_ACTIONS = ("cloudwatchMetric", "cloudwatchAlarm", "cloudwatchLogs", "elasticsearch", "salesforce",
                    "iotAnalytics", "iotEvents", "iotSiteWise", "stepFunctions", "timestream", "kafka",
                    "openSearch", "location", "influxDB")


class Action(_Shape):
    """One AWS IoT action: exactly one key naming its type."""

    dynamo_db: DynamoDBAction | None = Field(None, alias="dynamoDB")
    dynamo_db_v2: DynamoDBv2Action | None = Field(None, alias="dynamoDBv2")
    lambda_: LambdaAction | None = Field(None, alias="lambda")
    sns: SnsAction | None = None
    sqs: SqsAction | None = None
    kinesis: KinesisAction | None = None
    republish: RepublishAction | None = None
    s3: S3Action | None = None
    firehose: FirehoseAction | None = None
    http: HttpAction | None = None
    file: FileAction | None = None
    sqlite: SqliteAction | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_known_kind(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key in AWS_ONLY_ACTIONS:
                    raise ValueError(f"the AWS IoT action '{key}' is not run by the simulator "
                                     f"(it runs: {', '.join(ACTION_KINDS)})")
            if len([k for k in data if k in ACTION_KINDS]) > 1:
                raise ValueError("an action holds exactly one action type")
            if not data:
                raise ValueError(f"empty action: give one of {', '.join(ACTION_KINDS)}")
        return data

    @property
    def kind(self) -> str:
        """The AWS name of the action type ("republish", "dynamoDBv2"...)."""
        return next(f.alias or name for name, f in type(self).model_fields.items() if getattr(self, name) is not None)

    @property
    def spec(self) -> BaseModel:
        return next(getattr(self, name) for name in type(self).model_fields if getattr(self, name) is not None)


class TopicRulePayload(_Shape):
    sql: str
    description: str | None = None
    actions: list[Action] = []
    rule_disabled: bool = False
    aws_iot_sql_version: str | None = None
    error_action: Action | None = None


class TopicRule(TopicRulePayload):
    """A rule as ``aws iot get-topic-rule`` prints it (``createdAt`` is kept as printed)."""

    rule_name: str = Field(pattern=r"^[a-zA-Z0-9_]+$", max_length=128)
    created_at: str | float | None = None


class GetTopicRuleOutput(_Shape):
    """The whole output of ``aws iot get-topic-rule --rule-name X``."""

    rule_arn: str | None = None
    rule: TopicRule


class CreateTopicRuleInput(_Shape):
    """The input of ``aws iot create-topic-rule --cli-input-json``."""

    rule_name: str = Field(pattern=r"^[a-zA-Z0-9_]+$", max_length=128)
    topic_rule_payload: TopicRulePayload
    tags: str | None = None


class FunctionSpec(_Shape):
    """A local stand-in for a cloud Lambda: a Python file with ``def lambda_handler(event, context)``."""

    path: str
    handler: str = Field("lambda_handler", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout: float = Field(3.0, gt=0, le=900)


class RulesFile(_Shape):
    """Several rules in one file, and where their ``lambda`` actions' handlers are (name or ARN -> file)."""

    rules: list[TopicRule]
    functions: dict[str, str | FunctionSpec] = {}
