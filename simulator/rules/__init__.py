"""The AWS IoT rules engine of the simulated device: rules pasted from AWS, run locally.

```python
from simulator.rules import load_rules, RulesEngine, RuleSet, RuleStatus, RulesError
ruleset = load_rules([Path("rules.yaml")])          # RulesError: file:line: key / rule: why
engine = RulesEngine(ruleset, link_factory, env={"AWS_ENDPOINT_URL": ...}, thing_name="deeplens_x",
                     work_dir=Path("out"))
engine.start(); engine.status(); engine.reload(); engine.stop()
```

Rules are AWS's own TopicRule documents (see ``loader`` for the file forms). Their SQL is the AWS IoT SQL
2016-03-23 dialect: SELECT (``*``, fields, nested ``a.b`` / ``a[0]``, ``AS`` aliases, ``SELECT VALUE``, object
and array literals, arithmetic, CASE, cast, the functions in ``sql.functions``), FROM a quoted topic filter,
WHERE with comparisons, AND/OR/NOT, IN, IS [NOT] NULL. Missing fields are Undefined as AWS documents: a selected
Undefined drops its key, comparisons with it are Undefined, and a WHERE that is not true does not fire.
``IS NULL`` (which AWS does not document) is true for Null and for a missing field; ``isNull()`` and
``isUndefined()`` tell the two apart. A non-JSON payload is binary, as on AWS: ``SELECT *`` passes its bytes on
unchanged, ``encode(*, 'base64')`` encodes them, field references are Undefined, and ``SELECT *`` together with
other items is an error for that message.

The SQL is parsed with lark (a grammar of the dialect, LALR) rather than sqlglot. Both read the awkward parts
(``FROM '$aws/things/+/infer'``, ``a[0]``, ``topic(3)``, ``cast(x AS Int)``, ``encode(*, 'base64')``), but
sqlglot parses a general SQL and silently gives some AWS constructs another meaning (``SELECT VALUE x`` becomes
an alias named VALUE, ``"text"`` an identifier, ``{'a': 1}`` a STRUCT, ``mod(a, b)`` is rewritten), and it
accepts GROUP BY, JOIN, LIMIT or ``||`` that AWS refuses, so the supported subset would have to be policed by
walking its (often changing) expression classes. With lark the grammar is the dialect: what it does not describe
is refused at load time with the column and the word, and each construct maps to exactly one evaluator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.rules.engine import RulesEngine, rules_topic
    from simulator.rules.errors import RulesError
    from simulator.rules.loader import load_rules
    from simulator.rules.plan import Rule, RuleSet
    from simulator.rules.status import ActionStatus, RuleStatus

# Imported on first use: the status models alone (read by the core's status) need neither lark nor boto3.
_WHERE = {"RulesEngine": "engine", "rules_topic": "engine", "RulesError": "errors", "load_rules": "loader",
          "Rule": "plan", "RuleSet": "plan", "ActionStatus": "status", "RuleStatus": "status"}
__all__ = ["ActionStatus", "Rule", "RuleSet", "RuleStatus", "RulesEngine", "RulesError", "load_rules",
           "rules_topic"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"simulator.rules.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'simulator.rules' has no attribute {name!r}")
