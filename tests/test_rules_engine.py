"""The rules engine on a real embedded broker with real paho clients: republish and templates, the local sinks,
the http action and errorAction, status, reload, disabled rules, and a slow rule that does not hold up others."""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pydantic
import pytest

from simulator.ipc.mqtt import MqttLink
from simulator.rules import RulesEngine, RulesError, load_rules
from tests.rules.support import CLOUD, status_of, wait_until, write_rules

pytest_plugins = ["tests.rules.fixtures"]


def payloads(sub, prefix: str) -> list[tuple[str, dict]]:
    return [(t, json.loads(p)) for t, p in list(sub.messages) if t.startswith(prefix)]


def test_republish_with_where_and_templates(start_engine, rules_publisher, subscribe, broker):
    engine = start_engine("""
        rules:
          - ruleName: person_alert
            sql: "SELECT topic(3) AS thing, person AS p FROM '$aws/things/+/infer' WHERE person > 0.5"
            awsIotSqlVersion: "2016-03-23"
            actions:
              - republish: {topic: "alerts/${topic(3)}/${label}", qos: 1, roleArn: "arn:aws:iam::1:role/r"}
        """)
    alerts = subscribe(broker.port, "alerts/#")
    infer = "$aws/things/deeplens_cam/infer"
    rules_publisher.publish(infer, {"person": 0.9, "label": "door"})
    rules_publisher.publish(infer, {"person": 0.2, "label": "quiet"})
    rules_publisher.publish(infer, {"dog": 0.99})  # no "person": WHERE is Undefined, the rule does not fire
    rules_publisher.publish(infer, b"not json")  # binary: person is Undefined too
    rules_publisher.publish(infer, {"person": 0.95, "label": "last"})
    alerts.wait_for(lambda m: m[0].endswith("/last"), timeout=20)
    assert payloads(alerts, "alerts/") == [("alerts/deeplens_cam/door", {"thing": "deeplens_cam", "p": 0.9}),
                                           ("alerts/deeplens_cam/last", {"thing": "deeplens_cam", "p": 0.95})]
    st = wait_until(lambda: (s := status_of(engine, "person_alert")).received == 5
                    and s.actions_succeeded + s.actions_failed == s.matched and s,  # the acks counted too
                    what="5 received and their actions done")
    assert (st.matched, st.actions_succeeded, st.actions_failed, st.dropped, st.errors) == (2, 2, 0, 0, 0)
    assert json.loads(st.last_output) == {"thing": "deeplens_cam", "p": 0.95}
    assert st.actions[0].kind == "republish" and st.actions[0].target == "alerts/${topic(3)}/${label}"


def test_status_is_frozen_json_and_published(start_engine, rules_publisher, subscribe, broker):
    rules_sub = subscribe(broker.port, "deeplens/deeplens_test/rules")
    engine = start_engine("""
        rules:
          - ruleName: counter
            sql: "SELECT * FROM 'count/me'"
            actions: [{republish: {topic: counted}}]
        """, status_interval=0.1)
    rules_publisher.publish("count/me", {"n": 1})

    def published_matched():
        for _, raw in reversed(rules_sub.messages):
            (st,) = json.loads(raw)
            return st["matched"] == 1 and st
    st = wait_until(published_matched, what="a status message with matched=1")
    assert st["name"] == "counter" and st["topic_filter"] == "count/me" and st["source"].endswith("rules.yaml:2")
    status = status_of(engine, "counter")
    assert json.loads(json.dumps(status.model_dump())) == status.model_dump(mode="json")
    with pytest.raises(pydantic.ValidationError):
        status.matched = 5
    count = len(rules_sub.messages)
    assert not engine.publish_status()  # nothing changed: nothing published
    assert len(rules_sub.messages) == count


def test_file_and_sqlite_sinks(start_engine, rules_publisher, tmp_path):
    engine = start_engine("""
        rules:
          - ruleName: sink
            sql: "SELECT * FROM 'dev/+/data'"
            actions:
              - file: {path: "logs/${topic(2)}.jsonl"}
              - sqlite: {database: db/rules.db, table: readings}
        """)
    rules_publisher.publish("dev/cam1/data", {"a": 1, "b": "x"})
    rules_publisher.publish("dev/cam1/data", {"a": 2, "c": {"n": [1, 2]}, "ok": True})  # new columns c and ok
    rules_publisher.publish("dev/cam1/data", b"\x00\x01")  # binary: a base64 line, and a row in column "value"
    wait_until(lambda: status_of(engine, "sink").actions[1].succeeded == 3, what="3 rows")
    lines = (tmp_path / "work" / "logs" / "cam1.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"a": 1, "b": "x"}, {"a": 2, "c": {"n": [1, 2]}, "ok": True},
                                                    {"base64Payload": "AAE="}]
    with sqlite3.connect(tmp_path / "work" / "db" / "rules.db") as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(readings)")]
        rows = db.execute("SELECT a, b, c, ok, value FROM readings ORDER BY rowid").fetchall()
    assert columns == ["a", "b", "c", "ok", "value"]
    assert rows == [(1, "x", None, None, None), (2, None, '{"n":[1,2]}', 1, None),
                    (None, None, None, None, b"\x00\x01")]
    actions = status_of(engine, "sink").actions  # the status says where the output goes, not only what was written
    assert actions[0].target == str(tmp_path / "work" / "logs" / "${topic(2)}.jsonl")
    assert actions[1].target == f"{tmp_path / 'work' / 'db' / 'rules.db'}:readings"


def test_a_file_path_from_a_message_cannot_leave_its_folder(start_engine, rules_publisher, tmp_path):
    engine = start_engine("""
        rules:
          - ruleName: named
            sql: "SELECT * FROM 'named'"
            actions: [{file: {path: "out/${name}.jsonl"}}]
        """)
    rules_publisher.publish("named", {"name": "../../escaped"})  # whoever may publish picks the file name
    rules_publisher.publish("named", {"name": "a/../../beside"})  # out/a/../../beside.jsonl: beside out/
    rules_publisher.publish("named", {"name": "fine"})
    st = wait_until(lambda: (s := status_of(engine, "named")).received == 3
                    and s.actions_succeeded + s.actions_failed == 3 and s, what="3 handled")
    assert (st.actions_succeeded, st.actions_failed) == (1, 2)
    assert "outside" in st.actions[0].last_error
    assert (tmp_path / "work" / "out" / "fine.jsonl").read_text() == '{"name":"fine"}\n'
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.jsonl"))
    assert written == [Path("work/out/fine.jsonl")], written


def test_sql_that_cannot_apply_to_a_message_is_counted(start_engine, rules_publisher):
    engine = start_engine("""
        rules:
          - ruleName: mixed
            sql: "SELECT *, topic() AS t FROM 'bin'"
            actions: [{file: {path: out.jsonl}}]
        """)
    rules_publisher.publish("bin", b"\xff\xfe")
    rules_publisher.publish("bin", {"fine": 1})
    st = wait_until(lambda: (s := status_of(engine, "mixed")).matched == 1 and s, what="the JSON message")
    assert st.errors == 1 and "binary" in st.last_error and st.last_error_at.endswith("Z")


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(500 if self.path.endswith("/fail") else 200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_hook():
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Hook.received
    server.shutdown()
    server.server_close()


def test_http_action_and_error_action(start_engine, rules_publisher, http_hook, tmp_path):
    port, received = http_hook
    engine = start_engine(f"""
        rules:
          - ruleName: webhook
            sql: "SELECT * FROM 'dev/+'"
            actions:
              - http:
                  url: "http://127.0.0.1:{port}/hook/${{topic(2)}}"
                  headers:
                    - {{key: x-device, value: "${{topic(2)}}"}}
                    - {{key: authorization, value: "Bearer k"}}
            errorAction:
              file: {{path: errors.jsonl}}
        """)
    rules_publisher.publish("dev/cam1", {"v": 1})
    rules_publisher.publish("dev/fail", {"v": 2})
    st = wait_until(lambda: (s := status_of(engine, "webhook")).actions_failed == 1 and s.error_action.succeeded
                    and s, what="the failed POST and its error action")
    ok = next(r for r in received if r[0] == "/hook/cam1")
    assert ok[2] == b'{"v":1}'
    assert ok[1]["x-device"] == "cam1" and ok[1]["authorization"] == "Bearer k"
    assert ok[1]["Content-Type"] == "application/json"
    (error,) = [json.loads(line) for line in (tmp_path / "work" / "errors.jsonl").read_text().splitlines()]
    assert error["ruleName"] == "webhook" and error["topic"] == "dev/fail" and error["clientId"] == "n/a"
    assert base64.b64decode(error["base64OriginalPayload"]) == b'{"v": 2}'
    uuid.UUID(error["cloudwatchTraceId"])
    (failure,) = error["failures"]
    assert failure["failedAction"] == "HttpAction"
    assert failure["failedResource"] == f"http://127.0.0.1:{port}/hook/fail"
    assert "500" in failure["errorMessage"]
    assert st.actions_succeeded == 1 and "500" in st.last_error


def test_reload_keeps_running_rules_when_the_file_is_bad(start_engine, rules_publisher, subscribe, broker,
                                                         tmp_path):
    text = """
        rules:
          - ruleName: steady
            sql: "SELECT * FROM 'steady/in'"
            actions: [{republish: {topic: steady/out}}]
          - ruleName: changing
            sql: "SELECT * FROM 'ch/in'"
            actions: [{republish: {topic: ch/v1}}]
        """
    path = write_rules(tmp_path, text)
    engine = start_engine(path)
    out = subscribe(broker.port, "+/+")
    rules_publisher.publish("ch/in", {"n": 1})
    rules_publisher.publish("steady/in", {"n": 1})
    out.wait_for(lambda m: m[0] == "steady/out")
    write_rules(tmp_path, text.replace("actions: [{republish: {topic: ch/v1}}]",
                                       "actions: [{republish: {topic: ch/v2, qoss: 1}}]"))
    with pytest.raises(RulesError, match=r"rules.yaml:7: unknown key 'qoss'"):
        engine.reload()
    assert "qoss" in engine.last_reload_error
    rules_publisher.publish("ch/in", {"n": 2})
    out.wait_for(lambda m: m == ("ch/v1", b'{"n":2}'))  # the old rule still runs
    added = """
          - ruleName: added
            sql: "SELECT n * 10 AS m FROM 'ch/in'"
            actions: [{republish: {topic: added/out}}]
        """
    write_rules(tmp_path, text.replace("ch/v1", "ch/v2").rstrip() + added)
    engine.reload()
    assert engine.last_reload_error is None
    assert [s.name for s in engine.status()] == ["steady", "changing", "added"]
    rules_publisher.publish("ch/in", {"n": 3})
    out.wait_for(lambda m: m == ("ch/v2", b'{"n":3}'))
    out.wait_for(lambda m: m == ("added/out", b'{"m":30}'))
    assert status_of(engine, "steady").matched == 1  # unchanged rule: same worker, same counters
    assert status_of(engine, "changing").received == 1  # changed rule: counted afresh


def test_disabled_rule_runs_nothing(start_engine, rules_publisher, subscribe, broker):
    engine = start_engine("""
        rules:
          - ruleName: switched_off
            sql: "SELECT * FROM 'in'"
            ruleDisabled: true
            actions: [{republish: {topic: out/off}}]
          - ruleName: switched_on
            sql: "SELECT * FROM 'in'"
            actions: [{republish: {topic: out/on}}]
        """)
    out = subscribe(broker.port, "out/+")
    rules_publisher.publish("in", {"x": 1})
    out.wait_for(lambda m: m[0] == "out/on")
    off = status_of(engine, "switched_off")
    assert not off.enabled and off.received == 0
    assert [t for t, _ in out.messages] == ["out/on"]


def test_slow_rule_does_not_hold_up_others_and_drops_are_counted(start_engine, rules_publisher, subscribe,
                                                                  broker, tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    engine = start_engine(f"""
        rules:
          - ruleName: slow
            sql: "SELECT * FROM 'slow/in'"
            actions: [{{lambda: {{functionArn: blocker}}}}]
          - ruleName: fast
            sql: "SELECT v + 1 AS w FROM 'fast/in'"
            actions: [{{republish: {{topic: fast/out}}}}]
        functions:
          blocker: {{path: "{CLOUD / 'blocker.py'}", timeout: 60}}
        """, queue_size=5)
    fast = subscribe(broker.port, "fast/out")
    rules_publisher.publish("slow/in", {"dir": str(gate), "n": 0})
    wait_until(lambda: (gate / "started-0").exists(), what="the slow handler to start")
    rules_publisher.publish("fast/in", {"v": 1})
    fast.wait_for(lambda m: m == ("fast/out", b'{"w":2}'))
    assert status_of(engine, "slow").actions_succeeded == 0  # still held, and the fast rule went on
    for n in range(1, 21):
        rules_publisher.publish("slow/in", {"dir": str(gate), "n": n})
    st = wait_until(lambda: (s := status_of(engine, "slow")).received == 21 and s, what="21 received")
    assert (st.dropped, st.queued) == (15, 5)  # one in the handler, five queued, the rest dropped
    (gate / "release").touch()
    st = wait_until(lambda: (s := status_of(engine, "slow")).actions_succeeded == 6 and s, what="6 handled")
    assert st.actions_failed == 0 and sorted(p.name for p in gate.glob("started-*")) == \
        sorted(f"started-{n}" for n in range(6))


def test_unreachable_broker_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: nothing listens there
    path = write_rules(tmp_path, "rules: [{ruleName: r, sql: \"SELECT * FROM 'a'\"}]")
    engine = RulesEngine(load_rules([path]), lambda cid: MqttLink("127.0.0.1", port, client_id=cid),
                         work_dir=tmp_path, connect_timeout=1.0)
    with pytest.raises(RulesError, match="cannot connect to the MQTT broker"):
        engine.start()
