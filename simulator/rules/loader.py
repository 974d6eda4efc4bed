"""Load rules files into a checked ``RuleSet``: SQL compiled, templates compiled, Lambda handlers found.

A rules file is one of:

- the output of ``aws iot get-topic-rule --rule-name X`` (``{"ruleArn": ..., "rule": {...}}``), as printed;
- the input of ``aws iot create-topic-rule --cli-input-json`` (``{"ruleName": ..., "topicRulePayload": ...}``);
- ``rules:`` a list of rule objects (``ruleName``, ``sql``, ``actions``...), with an optional ``functions:`` map
  from a Lambda function name or ARN to a local handler file (a path, or ``{path, handler, timeout}``).

Paths in ``functions:`` are relative to the rules file. A ``lambda`` action whose function is not in the map
runs ``cloud/<function name>.py`` beside the rules file. Everything that can be checked is checked here, so a
rule that loads runs; the errors name the file, the line and the rule.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel

from simulator.rules.errors import RulesError
from simulator.rules.plan import ActionPlan, LambdaFunction, Rule, RuleSet, bucket_name_problem, function_name
from simulator.rules.schema import (
    Action,
    CreateTopicRuleInput,
    FunctionSpec,
    GetTopicRuleOutput,
    RepublishAction,
    RulesFile,
    TopicRule,
)
from simulator.rules.sourcefile import SourceFile, read_source
from simulator.rules.sql import SqlError, compile_query
from simulator.rules.templates import Template, compile_template

log = logging.getLogger("rules")

SQL_VERSIONS = ("2016-03-23", "2015-10-08")
# string fields of each action that take ${...} substitution templates (dotted paths into the action shape)
TEMPLATED = {
    "republish": ("topic",),
    "dynamoDBv2": ("putItem.tableName",),
    "dynamoDB": ("tableName", "hashKeyField", "hashKeyValue", "rangeKeyField", "rangeKeyValue", "payloadField",
                 "operation"),
    "lambda": (),
    "s3": ("bucketName", "key"),
    "sns": ("targetArn",),
    "sqs": ("queueUrl",),
    "kinesis": ("streamName", "partitionKey"),
    "firehose": ("deliveryStreamName",),
    "http": ("url",),
    "file": ("path",),
    "sqlite": (),
}


def aws_field(model: BaseModel, aws_name: str) -> Any:
    """The value of the field that files call ``aws_name`` (its camelCase alias)."""
    return next(getattr(model, name) for name, f in type(model).model_fields.items() if (f.alias or name) == aws_name)


def _rules_in(src: SourceFile) -> tuple[list[tuple[TopicRule, tuple]], dict]:
    """The rules of a file with the location of each, and its functions map."""
    keys = set(src.data)
    if "rule" in keys or "ruleArn" in keys:
        return [(src.validate(GetTopicRuleOutput).rule, ("rule",))], {}
    if "topicRulePayload" in keys:
        given = src.validate(CreateTopicRuleInput)
        rule = TopicRule.model_validate({"ruleName": given.rule_name,
                                         **given.topic_rule_payload.model_dump(by_alias=True, exclude_unset=True)})
        return [(rule, ("topicRulePayload",))], {}
    if "rules" in keys:
        parsed = src.validate(RulesFile)
        return [(r, ("rules", i)) for i, r in enumerate(parsed.rules)], parsed.functions
    raise RulesError(f"{src.path}:1: expected 'rules:' (a list of rules), or the output of "
                     f"'aws iot get-topic-rule' ('ruleArn' and 'rule'), or 'ruleName' and 'topicRulePayload'")


def _check_handler(path: Path, handler: str, where: str) -> None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise RulesError(f"{path}:{exc.lineno}: syntax error in the Lambda handler file: {exc.msg}") from None
    except OSError as exc:
        raise RulesError(f"{where}: cannot read the Lambda handler file {path}: {exc.strerror}") from None
    if not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == handler for n in tree.body):
        raise RulesError(f"{path}:1: no top-level 'def {handler}(event, context)' in the Lambda handler file "
                         f"(referenced at {where})")


def _functions(src: SourceFile, entries: Mapping[str, str | FunctionSpec]) -> dict[str, LambdaFunction]:
    """The ``functions:`` map, checked: each handler file exists and defines its handler."""
    found: dict[str, LambdaFunction] = {}
    for key, entry in entries.items():
        spec = FunctionSpec(path=entry) if isinstance(entry, str) else entry
        path = (src.path.parent / spec.path).resolve()
        where = src.where(("functions", key))
        if not path.is_file():
            raise RulesError(f"{where}: Lambda handler file for '{key}' not found: {path}")
        _check_handler(path, spec.handler, where)
        found[key] = LambdaFunction(function_name(key), key, path, spec.handler, spec.timeout)
    return found


def _lambda_for(arn: str, functions: dict[str, LambdaFunction], src: SourceFile, where: str) -> LambdaFunction:
    if "${" in arn:
        raise RulesError(f"{where}: a templated functionArn cannot be mapped to a local handler file")
    name = function_name(arn)
    by_name = [f for key, f in functions.items() if key == arn or f.name == name]
    if by_name:
        return replace(by_name[0], arn=arn)
    path = (src.path.parent / "cloud" / f"{name}.py").resolve()
    if not path.is_file():
        raise RulesError(f"{where}: no local handler for Lambda function '{name}': add it to 'functions:' in "
                         f"{src.path.name} or create {path}")
    _check_handler(path, "lambda_handler", where)
    return LambdaFunction(name, arn, path, "lambda_handler", 3.0)


def _plan(action: Action, loc: tuple, rule_name: str, src: SourceFile,
          functions: dict[str, LambdaFunction]) -> ActionPlan:
    kind, spec = action.kind, cast(Any, action.spec)
    key = kind  # the action's key in the file
    templates: dict[str, Template] = {}
    fields = list(TEMPLATED[kind])
    if kind == "http":
        fields += [f"headers.{i}.value" for i in range(len(spec.headers or []))]
    for dotted in fields:
        value: Any = spec
        for part in dotted.split("."):
            value = value[int(part)] if part.isdigit() else aws_field(value, part)
        if value is None:
            continue
        field_loc = (*loc, key, *(int(p) if p.isdigit() else p for p in dotted.split(".")))
        try:
            templates[dotted] = compile_template(value)
        except SqlError as exc:
            raise RulesError(f"{src.where(field_loc)}: rule '{rule_name}': {dotted}: {exc}") from None
    if kind == "s3" and templates["bucketName"].is_literal:
        problem = bucket_name_problem(spec.bucket_name)
        if problem:
            raise RulesError(f"{src.where((*loc, key, 'bucketName'))}: rule '{rule_name}': S3 bucket name "
                             f"'{spec.bucket_name}' {problem}")
    function = None
    if kind == "lambda":
        function = _lambda_for(spec.function_arn, functions, src,
                               f"{src.where((*loc, key, 'functionArn'))}: rule '{rule_name}'")
    return ActionPlan(kind, spec, templates, src.where(loc), rule_name, function)


def _compile_rule(rule: TopicRule, loc: tuple, src: SourceFile, functions: dict[str, LambdaFunction]) -> Rule:
    version = rule.aws_iot_sql_version
    if version is not None and version not in SQL_VERSIONS:
        raise RulesError(f"{src.where((*loc, 'awsIotSqlVersion'))}: rule '{rule.rule_name}': SQL version "
                         f"'{version}' is not supported (use 2016-03-23)")
    if version != "2016-03-23":
        log.info("rule %s: SQL version %s is evaluated with the 2016-03-23 dialect", rule.rule_name,
                 version or "2015-10-08 (AWS's default when awsIotSqlVersion is absent)")
    try:
        query = compile_query(rule.sql)
    except SqlError as exc:
        raise RulesError(f"{src.where((*loc, 'sql'))}: rule '{rule.rule_name}': {exc}",
                         hint="the simulator runs the AWS IoT SQL 2016-03-23 dialect") from None
    actions = tuple(_plan(a, (*loc, "actions", i), rule.rule_name, src, functions) for i, a in enumerate(rule.actions))
    error_action = None
    if rule.error_action is not None:
        error_action = _plan(rule.error_action, (*loc, "errorAction"), rule.rule_name, src, functions)
    for plan in actions:
        topic = cast(RepublishAction, plan.spec).topic if plan.kind == "republish" else ""
        if topic and plan.templates["topic"].is_literal and query.matches(topic):
            log.warning("rule %s republishes to '%s', which its own FROM '%s' matches: every message loops",
                        rule.rule_name, topic, query.topic_filter)
    return Rule(rule.rule_name, src.where(loc), rule, query, actions, error_action, src.path.parent)


def load_rules(paths: Iterable[Path]) -> RuleSet:
    """Read and check every rules file; RulesError (file:line: key/why) on the first file that is wrong."""
    files = tuple(Path(p) for p in paths)
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path in files:
        src = read_source(path)
        entries, function_entries = _rules_in(src)
        functions = _functions(src, function_entries)
        for rule, loc in entries:
            compiled = _compile_rule(rule, loc, src, functions)
            if compiled.name in seen:
                raise RulesError(f"{compiled.where}: rule name '{compiled.name}' is already used at "
                                 f"{seen[compiled.name]}")
            seen[compiled.name] = compiled.where
            rules.append(compiled)
    return RuleSet(tuple(rules), files)
