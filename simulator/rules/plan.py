"""The checked form of rules files: a ``RuleSet`` of ``Rule``s, each with its compiled query and action plans."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from simulator.rules.schema import TopicRule
from simulator.rules.sql import Query
from simulator.rules.templates import Template

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def bucket_name_problem(name: str) -> str | None:
    """Why AWS would refuse ``name`` as an S3 bucket name (general purpose bucket rules), or None."""
    if not 3 <= len(name) <= 63:
        return "must be 3 to 63 characters long"
    if not _BUCKET.fullmatch(name):
        return "may hold only lowercase letters, digits, dots and hyphens, and must begin and end with a " \
               "letter or digit"
    if ".." in name:
        return "must not contain two adjacent dots"
    try:
        ipaddress.IPv4Address(name)
        return "must not be formatted as an IP address"
    except ValueError:
        pass
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"must not begin with '{prefix}'"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            return f"must not end with '{suffix}'"
    return None


def function_name(name_or_arn: str) -> str:
    """``arn:aws:lambda:<region>:<account>:function:NAME[:qualifier]`` or a bare name -> NAME."""
    parts = name_or_arn.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[5] == "function":
        return parts[6]
    return name_or_arn


@dataclass(frozen=True)
class LambdaFunction:
    """A local handler standing in for a cloud Lambda function."""

    name: str
    arn: str
    path: Path
    handler: str
    timeout: float


@dataclass(frozen=True)
class ActionPlan:
    """One action of a rule as loaded: its AWS shape, its compiled templates, where it was written."""

    kind: str
    spec: BaseModel
    templates: Mapping[str, Template]
    where: str
    rule_name: str
    function: LambdaFunction | None = None

    def render(self, dotted: str, message) -> str:
        return self.templates[dotted].render(message)


@dataclass(frozen=True)
class Rule:
    name: str
    where: str
    definition: TopicRule
    query: Query
    actions: tuple[ActionPlan, ...]
    error_action: ActionPlan | None
    base_dir: Path
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        functions = [(a.function.path, a.function.handler, a.function.timeout)
                     for a in (*self.actions, self.error_action) if a is not None and a.function is not None]
        object.__setattr__(self, "fingerprint",
                           f"{self.definition.model_dump_json()}|{self.base_dir}|{functions}")

    @property
    def enabled(self) -> bool:
        return not self.definition.rule_disabled


@dataclass(frozen=True)
class RuleSet:
    """The rules of some files, in file order; ``files`` are re-read by ``RulesEngine.reload()``."""

    rules: tuple[Rule, ...]
    files: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)
