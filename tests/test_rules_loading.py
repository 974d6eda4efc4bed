"""Rules files: AWS's own shapes (as the AWS CLI prints them) load; every mistake is one error naming the file,
the line and the key or the rule."""

from __future__ import annotations

import json
from pathlib import Path

import botocore.session
import pytest

from simulator.errors import SimulatorError
from simulator.rules import RulesError, load_rules
from simulator.rules.schema import (
    Action,
    BatchConfig,
    CreateTopicRuleInput,
    DynamoDBAction,
    DynamoDBv2Action,
    FirehoseAction,
    HttpAction,
    HttpActionHeader,
    HttpAuthorization,
    KinesisAction,
    LambdaAction,
    MqttHeaders,
    PutItemInput,
    RepublishAction,
    S3Action,
    SigV4Authorization,
    SnsAction,
    SqsAction,
    TopicRule,
    TopicRulePayload,
)
from tests.rules.support import CLOUD, HERE, write_rules


def test_get_topic_rule_output_loads_as_printed():
    ruleset = load_rules([HERE / "get_topic_rule.json"])
    (rule,) = ruleset.rules
    assert rule.name == "deeplens_infer_to_dynamodb"
    assert rule.query.topic_filter == "$aws/things/+/infer"
    assert [a.kind for a in rule.actions] == ["dynamoDBv2"]
    assert rule.actions[0].spec.put_item.table_name == "DeepLensDetections"
    assert rule.error_action.kind == "republish"
    assert rule.where == f"{HERE / 'get_topic_rule.json'}:3"
    assert rule.enabled


def test_cli_v1_epoch_created_at_and_create_topic_rule_input(tmp_path):
    printed = json.loads((HERE / "get_topic_rule.json").read_text())
    printed["rule"]["createdAt"] = 1709662353.0  # AWS CLI v1 prints a number
    (tmp_path / "v1.json").write_text(json.dumps(printed))
    assert load_rules([tmp_path / "v1.json"]).rules[0].definition.created_at == 1709662353.0
    (rule,) = load_rules([HERE / "create_topic_rule.json"]).rules
    assert rule.name == "deeplens_to_s3"
    assert rule.actions[0].spec.canned_acl == "private"


def test_rules_list_with_functions_and_several_files(tmp_path):
    first = write_rules(tmp_path, f"""
        rules:
          - ruleName: to_lambda
            sql: "SELECT * FROM 'a/+'"
            actions:
              - lambda: {{functionArn: "arn:aws:lambda:us-east-1:123456789012:function:echo:prod"}}
          - ruleName: disabled_one
            sql: "SELECT * FROM 'b'"
            ruleDisabled: true
        functions:
          echo: {{path: "{CLOUD / 'echo.py'}", timeout: 7.5}}
        """)
    second = write_rules(tmp_path, "rules: [{ruleName: other, sql: \"SELECT a FROM 'c'\"}]", "more.yaml")
    ruleset = load_rules([first, second])
    assert [r.name for r in ruleset.rules] == ["to_lambda", "disabled_one", "other"]
    fn = ruleset.get("to_lambda").actions[0].function
    assert (fn.name, fn.path, fn.timeout) == ("echo", CLOUD / "echo.py", 7.5)
    assert fn.arn.endswith(":function:echo:prod")
    assert not ruleset.get("disabled_one").enabled


def test_lambda_defaults_to_cloud_folder_beside_the_rules_file(tmp_path):
    (tmp_path / "cloud").mkdir()
    (tmp_path / "cloud" / "notify.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    path = write_rules(tmp_path, """
        rules:
          - ruleName: r
            sql: "SELECT * FROM 'a'"
            actions: [{lambda: {functionArn: "arn:aws:lambda:eu-west-1:1:function:notify"}}]
        """)
    fn = load_rules([path]).rules[0].actions[0].function
    assert (fn.path, fn.timeout, fn.handler) == (tmp_path / "cloud" / "notify.py", 3.0, "lambda_handler")


def load_error(tmp_path: Path, text: str, name: str = "rules.yaml") -> str:
    path = write_rules(tmp_path, text, name)
    with pytest.raises(RulesError) as info:
        load_rules([path])
    assert isinstance(info.value, SimulatorError)
    return str(info.value)


def test_typo_key_names_file_line_and_key(tmp_path):
    msg = load_error(tmp_path, """
        rules:
          - ruleName: r
            sql: "SELECT * FROM 'a'"
            actions:
              - republish:
                  topic: out
                  qoss: 1
        """)
    assert msg == f"{tmp_path / 'rules.yaml'}:7: unknown key 'qoss' (in 'rules.0.actions.0.republish.qoss')"


def test_typo_in_cli_json_names_its_line(tmp_path):
    text = (HERE / "get_topic_rule.json").read_text().replace('"ruleDisabled"', '"ruleDisable"')
    msg = load_error(tmp_path, text, "rule.json")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "ruleDisable" in t)
    assert msg.startswith(f"{tmp_path / 'rule.json'}:{line}: unknown key 'ruleDisable'")


def test_snake_case_names_are_not_aws_names(tmp_path):
    msg = load_error(tmp_path, """
        rules:
          - ruleName: r
            sql: "SELECT * FROM 'a'"
            actions: [{s3: {bucket_name: b, key: k}}]
        """)
    assert ":4: unknown key 'bucket_name'" in msg


@pytest.mark.parametrize(("sql", "words"), [
    ("SELECT * FROM 'a' GROUP BY x", ["'GROUP'"]),
    ("SELECT machinelearning_predict(a, b, c) AS p FROM 'a'", ["machinelearning_predict"]),
    ("SELECT a FROM 'a' WHERE b LIKE 'x'", ["'LIKE'"]),
])
def test_unsupported_sql_names_rule_and_construct(tmp_path, sql, words):
    msg = load_error(tmp_path, f"""
        rules:
          - ruleName: first
            sql: "SELECT * FROM 'a'"
          - ruleName: people_alert
            description: the second rule
            sql: "{sql}"
        """)
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:6: rule 'people_alert': ")
    for word in words:
        assert word in msg


def test_bad_literal_bucket_name_is_a_load_error(tmp_path):
    msg = load_error(tmp_path, """
        rules:
          - ruleName: r
            sql: "SELECT * FROM 'a'"
            actions:
              - s3:
                  bucketName: My_Bucket
                  key: "${topic()}"
        """)
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:6: rule 'r': S3 bucket name 'My_Bucket' may hold only")


def test_templated_bucket_name_loads(tmp_path):
    path = write_rules(tmp_path, """
        rules:
          - ruleName: r
            sql: "SELECT * FROM 'a'"
            actions: [{s3: {bucketName: "${bucket}", key: k}}]
        """)
    assert load_rules([path]).rules[0].actions[0].templates["bucketName"].text == "${bucket}"


def test_bad_template_names_the_field(tmp_path):
    msg = load_error(tmp_path, """
        rules:
          - ruleName: r
            sql: "SELECT * FROM 'a'"
            actions:
              - republish: {topic: "out/${topic(3}"}
        """)
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:5: rule 'r': topic: in '${{topic(3}}':")


def test_missing_handler_file(tmp_path):
    msg = load_error(tmp_path, """
        rules:
          - ruleName: r
            sql: "SELECT * FROM 'a'"
            actions:
              - lambda:
                  functionArn: arn:aws:lambda:us-east-1:123456789012:function:resize
        """)
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:6: rule 'r': no local handler for Lambda function 'resize'")
    assert str(tmp_path / "cloud" / "resize.py") in msg


def test_functions_entry_with_missing_file(tmp_path):
    msg = load_error(tmp_path, """
        rules: []
        functions:
          resize: cloud/resize.py
        """)
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:3: Lambda handler file for 'resize' not found")


def test_handler_file_without_handler_or_with_syntax_error(tmp_path):
    (tmp_path / "nohandler.py").write_text("def main(event, context):\n    pass\n")
    (tmp_path / "broken.py").write_text("def lambda_handler(event, context):\n    return (\n")
    msg = load_error(tmp_path, "rules: []\nfunctions: {a: nohandler.py}\n")
    assert "no top-level 'def lambda_handler(event, context)'" in msg and "nohandler.py:1" in msg
    msg = load_error(tmp_path, "rules: []\nfunctions: {a: broken.py}\n")
    assert msg.startswith(f"{tmp_path / 'broken.py'}:2: syntax error")


@pytest.mark.parametrize(("snippet", "expected"), [
    ("actions: [{cloudwatchMetric: {metricName: m}}]", "the AWS IoT action 'cloudwatchMetric' is not run"),
    ("actions: [{republish: {topic: a}, s3: {bucketName: abc, key: k}}]", "exactly one action type"),
    ("awsIotSqlVersion: beta", "SQL version 'beta' is not supported"),
    ("actions: [{republish: {topic: a, qos: 2}}]", "key 'rules.0.actions.0.republish.qos'"),
    ("actions: [{sqlite: {database: '${topic(1)}.db'}}]", "sqlite.database': substitution templates are not"),
    ("actions: [{file: {path: ''}}]", "key 'rules.0.actions.0.file.path'"),
])
def test_other_mistakes(tmp_path, snippet, expected):
    msg = load_error(tmp_path, f"""
        rules:
          - ruleName: r
            sql: "SELECT * FROM 'a'"
            {snippet}
        """)
    assert expected in msg
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:")


def test_rule_names_follow_aws_and_are_unique(tmp_path):
    msg = load_error(tmp_path, "rules: [{ruleName: my-rule, sql: \"SELECT * FROM 'a'\"}]")
    assert ":1: key 'rules.0.ruleName'" in msg
    msg = load_error(tmp_path, "rules:\n  - {ruleName: r, sql: \"SELECT * FROM 'a'\"}\n"
                               "  - {ruleName: r, sql: \"SELECT * FROM 'b'\"}\n")
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:3: rule name 'r' is already used at")


def test_unreadable_or_unknown_files(tmp_path):
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules([tmp_path / "absent.yaml"])
    bad_json = load_error(tmp_path, '{\n  "rule": {,\n}', "bad.json")
    assert bad_json.startswith(f"{tmp_path / 'bad.json'}:2: not valid JSON")
    assert "expected 'rules:'" in load_error(tmp_path, "something: else\n")


_SHAPES = {"TopicRulePayload": TopicRulePayload, "TopicRule": TopicRule, "Action": Action,
           "RepublishAction": RepublishAction, "MqttHeaders": MqttHeaders, "DynamoDBv2Action": DynamoDBv2Action,
           "PutItemInput": PutItemInput, "DynamoDBAction": DynamoDBAction, "LambdaAction": LambdaAction,
           "S3Action": S3Action, "SnsAction": SnsAction, "SqsAction": SqsAction, "KinesisAction": KinesisAction,
           "FirehoseAction": FirehoseAction, "HttpAction": HttpAction, "HttpActionHeader": HttpActionHeader,
           "HttpAuthorization": HttpAuthorization, "SigV4Authorization": SigV4Authorization,
           "BatchConfig": BatchConfig, "CreateTopicRuleRequest": CreateTopicRuleInput}


@pytest.mark.parametrize("shape", sorted(_SHAPES))
def test_field_names_are_those_of_the_aws_iot_api(shape):
    """Each model reads exactly the members of the AWS IoT API shape of the same name (botocore's model)."""
    api = botocore.session.get_session().get_service_model("iot").shape_for(shape)
    ours = {f.alias or name for name, f in _SHAPES[shape].model_fields.items()}
    theirs = set(api.members)
    if shape == "Action":  # actions AWS has that the simulator does not run are named in a clear error instead
        from simulator.rules.schema import AWS_ONLY_ACTIONS
        theirs -= set(AWS_ONLY_ACTIONS)
        ours -= {"file", "sqlite"}  # the two local sinks
    assert ours == theirs
