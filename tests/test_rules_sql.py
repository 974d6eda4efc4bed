"""AWS IoT SQL as the rules engine evaluates it: every construct against results computed by hand from the AWS IoT
SQL reference (Data types, Operators, Functions, Literals, Case, JSON extensions, Binary payloads)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from simulator.rules.sql import NO_MATCH, UNDEFINED, EvalError, SqlError, compile_query, output_bytes
from simulator.rules.sql.message import Message
from simulator.rules.templates import compile_template

TOPIC = "things/cam1/infer"
PAYLOAD = {"color": "red", "temperature": 50, "coords": {"lat": 47.6, "lon": -122.3}, "labels": ["cat", "dog", "bird"],
           "count": 7, "ratio": 2.5, "flag": True, "none": None, "text": "Hello World", "num_str": "12.5",
           "bool_str": "TRUE", "nested": {"a": {"b": [10, {"c": "deep"}]}}}


def message(payload=PAYLOAD, topic: str = TOPIC) -> Message:
    return Message(topic, payload if isinstance(payload, bytes) else json.dumps(payload).encode())


def select(items: str, payload=PAYLOAD, where: str = ""):
    sql = f"SELECT {items} FROM 'things/+/infer'" + (f" WHERE {where}" if where else "")
    return compile_query(sql).evaluate(message(payload))


@pytest.mark.parametrize(("items", "expected"), [
    ("*", PAYLOAD),
    ("color", {"color": "red"}),
    ("color AS c, temperature AS t", {"c": "red", "t": 50}),
    ("coords.lat", {"lat": 47.6}),
    ("labels[1] AS second", {"second": "dog"}),
    ("nested.a.b[1].c AS deep", {"deep": "deep"}),
    ("coords.lat AS where.lat", {"where": {"lat": 47.6}}),
    # a selected Undefined drops its key
    ("labels[9] AS x, missing AS m, missing.deeper AS d, color", {"color": "red"}),
    ("*, count * 2 AS twice", {**PAYLOAD, "twice": 14}),
    ("VALUE labels", ["cat", "dog", "bird"]),
    ("VALUE count", 7),
])
def test_select_shapes(items, expected):
    assert select(items) == expected


def test_undefined_alone_serializes_as_nothing():
    result = select("VALUE missing + 1")
    assert result is UNDEFINED
    assert output_bytes(result) == b""
    assert output_bytes(select("color, missing")) == b'{"color":"red"}'


@pytest.mark.parametrize(("items", "expected"), [
    ("(temperature - 32) * 5 / 9 AS celsius", {"celsius": 10}),  # the SELECT page's example
    ("count / 2 AS q, count % 4 AS r, -count AS n", {"q": 3, "r": 3, "n": -7}),  # Int / Int stays Int
    ("-7 / 2 AS q, -7 % 3 AS r", {"q": -3, "r": -1}),  # truncated toward zero, remainder keeps the sign
    ("ratio * 2 AS d, count + ratio AS s", {"d": 5, "s": 9.5}),  # whole Decimals are Ints in 2016-03-23
    ("7 / 2.0 AS q", {"q": 3}),  # "10.0 is processed as an Int value (10)" (Data types, SQL V2)
    ("7 / 2.5 AS q", {"q": 2.8}),
    ("num_str * 2 AS n, '3' - 1 AS m", {"n": 25, "m": 2}),  # numeric strings convert for - * /
    ("'deg: ' + temperature AS s, temperature + '1' AS s2", {"s": "deg: 50", "s2": "501"}),  # + concatenates
    ("1 / 0 AS z, color - 1 AS bad, flag * 2 AS b2, color + 1 AS s", {"s": "red1"}),  # Undefined dropped
    ("{'lat': coords.lat, 'gone': nope} AS o, [count, nope, 'x'] AS arr", {"o": {"lat": 47.6}, "arr": [7, "x"]}),
    ("{'latitude': get(coords, 'lat')} AS p", {"p": {"latitude": 47.6}}),
    # Null is a value and stays; strings in single or double quotes, backslash escapes
    ("true AS t, false AS f, null AS n, 'it\\'s' AS s0, \"dq\" AS s1, 1.5e2 AS e",
     {"t": True, "f": False, "n": None, "s0": "it's", "s1": "dq", "e": 150}),
])
def test_literals_and_arithmetic(items, expected):
    assert select(items) == expected


@pytest.mark.parametrize(("items", "expected"), [
    ("CASE color WHEN 'green' THEN 'go' WHEN 'red' THEN 'stop' ELSE 'caution' END AS action", {"action": "stop"}),
    ("CASE count WHEN 1 THEN 'one' END AS x, color", {"color": "red"}),  # no match, no ELSE: Undefined
    ("CASE nope WHEN 1 THEN 'a' ELSE 'b' END AS x, color", {"color": "red"}),  # Undefined subject: Undefined
    ("CASE count WHEN 7.0 THEN 'seven' ELSE 'other' END AS x", {"x": "seven"}),  # Int = Decimal by value
    ("CASE WHEN temperature > 60 THEN 'hot' WHEN temperature > 40 THEN 'warm' ELSE 'cold' END AS feel",
     {"feel": "warm"}),
])
def test_case(items, expected):
    assert select(items) == expected


def test_cast():
    assert select("cast(num_str AS Int) AS i, cast(ratio AS Int) AS i2, cast(-2.5 AS Int) AS i3, "
                  "cast(count AS String) AS s, cast(flag AS Int) AS b, cast(count AS Bool) AS cb, "
                  "cast(0 AS Boolean) AS cb0, cast(bool_str AS Bool) AS sb, cast('x' AS Int) AS bad, "
                  "cast(num_str AS Decimal) AS d, cast(labels AS String) AS ls, cast(flag AS varchar) AS fs, "
                  "cast(none AS Int) AS n") == \
        {"i": 12, "i2": 2, "i3": -3, "s": "7", "b": 1, "cb": True, "cb0": False, "sb": True, "d": 12.5,
         "ls": '["cat","dog","bird"]', "fs": "true"}


def test_functions_from_the_reference():
    got = select(
        "topic() AS t0, topic(2) AS t2, topic(5) AS t5, "
        "abs(-3) AS a1, abs('-5.5') AS a2, abs(color) AS a3, "
        "round(2.5) AS r1, round(-2.5) AS r2, round(1.2) AS r3, round('2.7') AS r4, "
        "floor(-1.2) AS f1, floor(3) AS f2, ceil(1.2) AS c1, ceil(-1.2) AS c2, "
        "lower(text) AS l1, upper('hi') AS u1, lower(labels) AS l2, upper(none) AS u2, "
        "concat('a', count, flag) AS k1, concat(labels, 'fish') AS k2, concat(color) AS k3, concat(1, 2) AS k4, "
        "get(labels, 0) AS g1, get(coords, 'lon') AS g2, get(text, 1) AS g3, get(labels, 10) AS g4, "
        "get(labels, '2') AS g5, "
        "isUndefined(nope) AS iu1, isUndefined(none) AS iu2, isNull(none) AS in1, isNull(nope) AS in2, "
        "encode(color, 'base64') AS e1, decode('eyJhIjogMX0=', 'base64').a AS d1, "
        "decode('aGVsbG8=', 'base64') AS d2, mod(7, 3) AS m1, power(2, 5) AS p1, sqrt(9) AS s1, sign(-4) AS s2, "
        "length(text) AS len, numbytes('€') AS nb, startswith(text, 'Hell') AS sw, endswith(text, 'x') AS ew, "
        "substring('012345', 2) AS ss1, substring('012345', 1, 3) AS ss2, substring('012345', 3, 1) AS ss3, "
        "replace('abcd', 'bc', 'x') AS rp, trim('  hi ') AS tr, indexof('abcd', 'bc') AS io, "
        "md5('hello') AS md")
    assert got == {
        "t0": TOPIC, "t2": "cam1", "a1": 3, "a2": 5.5, "r1": 3, "r2": -3, "r3": 1, "r4": 3, "f1": -2, "f2": 3,
        "c1": 2, "c2": -1, "l1": "hello world", "u1": "HI", "l2": '["cat","dog","bird"]', "k1": "a7true",
        "k2": ["cat", "dog", "bird", "fish"], "k3": "red", "g1": "cat", "g2": -122.3, "g3": "e", "g5": "bird",
        "iu1": True, "iu2": False, "in1": True, "in2": False, "e1": "cmVk", "d1": 1, "d2": "hello", "m1": 1,
        "p1": 32, "s1": 3, "s2": -1, "len": 11, "nb": 3, "sw": True, "ew": False, "ss1": "2345", "ss2": "12",
        "ss3": "", "rp": "axd", "tr": "hi", "io": 1, "md": "5d41402abc4b2a76b9719d911017c592"}
    # SQL 2016-03-23 processes a whole-number Decimal as an Int: power's and sqrt's 32.0 and 3.0 go out as 32 and 3
    assert json.dumps([got["p1"], got["s1"], got["a2"]]) == "[32, 3, 5.5]"


def test_message_context_functions():
    m = message()
    out = compile_query("SELECT timestamp() AS ts, clientid() AS c, newuuid() AS u1, newuuid() AS u2, "
                        "traceid() AS tr, encode(*, 'base64') AS raw FROM '#'").evaluate(m)
    assert out["ts"] == m.received_ms
    assert out["c"] == "n/a"  # an MQTT 3.1.1 subscriber is not told the publisher's client id
    assert uuid.UUID(out["u1"]) != uuid.UUID(out["u2"])
    assert out["tr"] == m.trace_id
    assert base64.b64decode(out["raw"]) == m.payload  # * encodes the raw payload bytes


@pytest.mark.parametrize(("where", "fires"), [
    ("temperature > 40", True),
    ("temperature > 60", False),
    ("temperature > '40'", True),  # both sides converted to Decimal
    ("color > 1", False),  # Undefined
    ("'b' > 'a'", False),  # strings that are not numbers do not order: Undefined
    ("missing > 1", False),
    ("NOT missing > 1", False),  # NOT Undefined is Undefined
    ("missing <> 1", False),  # comparisons with Undefined are Undefined
    ("color = 'red' AND count = 7", True),
    ("color = 'red' AND missing = 1", False),
    ("color = 'red' OR missing = 1", False),  # AND/OR need Boolean operands: Undefined otherwise
    ("color = 'blue' OR count >= 7", True),
    ("flag", True),
    ("bool_str AND flag", True),  # "true"/"false" strings count as Booleans
    ("color", False),  # a WHERE that is not a Boolean does not fire
    ("count IN (1, 7)", True),
    ("'dog' IN labels", True),
    ("color IN labels", False),
    ("missing IN (1, 2)", False),
    ("color NOT IN ('blue', 'green')", True),
    ("none IS NULL", True),
    ("missing IS NULL", True),
    ("color IS NOT NULL", True),
    ("missing IS NOT NULL", False),
    ("isNull(missing)", False),
    ("isUndefined(missing)", True),
    ("coords = {'lon': -122.3, 'lat': 47.6}", True),  # objects: keys and values, order unimportant
    ("labels = ['cat', 'dog', 'bird']", True),
    ("labels = ['dog', 'cat', 'bird']", False),  # arrays: same items in the same order
    ("count = 7.0", True),
    ("count = '7'", False),  # mismatched types are unequal
    ("none = null", True),
    ("topic(2) = 'cam1'", True),
    ("(temperature - 32) * 5 / 9 = 10", True),
])
def test_where(where, fires):
    assert (select("color", where=where) is not NO_MATCH) is fires


def test_keywords_are_case_insensitive_and_names_may_look_like_keywords():
    q = compile_query("select notice, order, value_x AS v from 'a/+' where order = 1 and Notice IS null")
    assert q.evaluate(message({"notice": "n", "order": 1}, "a/b")) == {"notice": "n", "order": 1}


def test_topic_filter_matching():
    q = compile_query("SELECT * FROM '$aws/things/+/infer'")
    assert q.matches("$aws/things/deeplens_1/infer")
    assert not q.matches("$aws/things/deeplens_1/shadow/update")
    assert not compile_query("SELECT * FROM '#'").matches("$aws/things/x/infer")  # MQTT 4.7.2
    assert compile_query("SELECT * FROM 'a/#'").matches("a/b/c")


def test_binary_payloads():
    raw = b"\x00\x01 not json \xff"
    assert select("*", raw) == raw  # passed on untouched
    assert select("encode(*, 'base64') AS data, topic(2) AS t", raw) == \
        {"data": base64.b64encode(raw).decode(), "t": "cam1"}
    assert select("*", raw, where="color = 'red'") is NO_MATCH  # JSON names are Undefined in a binary payload
    with pytest.raises(EvalError, match="binary"):
        select("*, 1 AS x", raw)
    assert select("*", b"80") == 80  # a bare JSON number is JSON, not binary


@pytest.mark.parametrize(("sql", "construct"), [
    ("SELECT * FROM 'a' GROUP BY x", "'GROUP'"),
    ("SELECT * FROM 'a' WHERE a LIKE 'x%'", "'LIKE'"),
    ("SELECT * FROM 'a' WHERE a BETWEEN 1 AND 2", "'BETWEEN'"),
    ("SELECT a FROM 'a' JOIN b", "'JOIN'"),
    ("SELECT a || b AS c FROM 'a'", "'|'"),
    ("SELECT (SELECT a FROM b) AS c FROM 'a'", "'SELECT'"),
    ("SELECT machinelearning_predict(a, b, c) AS p FROM 'a'", "unsupported function 'machinelearning_predict'"),
    ("SELECT topic(1, 2) AS t FROM 'a'", "takes 0 to 1 argument(s), got 2"),
    ("SELECT cast(a AS Date) AS d FROM 'a'", "unsupported cast type 'Date'"),
    ("SELECT encode(a, 'hex') AS e FROM 'a'", "only the 'base64' scheme"),
    ("SELECT count + 1 FROM 'a'", "needs a name: add AS"),
    ("SELECT * FROM 'a/#/b'", "not a valid MQTT topic filter"),
    ("SELECT * FROM a/b", "'a'"),  # the topic filter must be quoted
    ("SELECT * FROM", "ends too early"),
])
def test_unsupported_sql_is_refused_naming_the_construct(sql, construct):
    with pytest.raises(SqlError) as info:
        compile_query(sql)
    assert construct in str(info.value)


def test_substitution_templates():
    m = message({"thing": "cam1", "coords": {"lat": 1.5}, "color": "red"}, "things/cam1/infer")
    assert compile_template("out/${topic(3)}/${timestamp()}").render(m) == f"out/infer/{m.received_ms}"
    assert compile_template("${thing}-${missing}-x").render(m) == "cam1--x"  # Undefined renders as ""
    assert compile_template("${replace(topic(), '/', '-')}").render(m) == "things-cam1-infer"
    assert compile_template("${ {'a': coords.lat}.a }").render(m) == "1.5"  # braces of an object literal
    assert compile_template("${concat('}', color)}").render(m) == "}red"  # a brace inside a string
    assert compile_template("${coords}").render(m) == '{"lat":1.5}'
    assert compile_template("plain/topic").is_literal
    for bad in ("${}", "a/${topic(3)", "${nope(1)}"):
        with pytest.raises(SqlError):
            compile_template(bad)
