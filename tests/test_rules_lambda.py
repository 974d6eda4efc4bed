"""The lambda action: real handler files in their own warm process, with the AWS environment (boto3 reaches the
local cloud), output in the log, and failures — a handler that raises, one that hangs — that leave the engine
running."""

from __future__ import annotations

import base64
import json
import logging
import re

from simulator.ipc.pids import pid_alive
from tests.rules.support import CLOUD, aws_client, status_of, wait_until

pytest_plugins = ["tests.rules.fixtures"]

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def lambda_lines(caplog, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == f"rules.lambda.{name}"]


def test_handler_runs_warm_with_the_aws_environment(moto_env, start_engine, rules_publisher, caplog):
    caplog.set_level(logging.INFO, logger="rules.lambda")
    engine = start_engine(f"""
        rules:
          - ruleName: store
            sql: "SELECT *, topic(2) AS device FROM 'dev/+'"
            actions:
              - lambda: {{functionArn: "{ARN.format('to_s3')}"}}
              - lambda: {{functionArn: "{ARN.format('echo')}"}}
        functions:
          to_s3: {{path: "{CLOUD / 'to_s3.py'}", timeout: 20}}
          "{ARN.format('echo')}": "{CLOUD / 'echo.py'}"
        """, env=moto_env)
    rules_publisher.publish("dev/cam1", {"bucket": "lambda-out", "n": 1})
    rules_publisher.publish("dev/cam1", {"bucket": "lambda-out", "n": 2})
    st = wait_until(lambda: (s := status_of(engine, "store")).actions_succeeded == 4 and s, what="4 invocations")
    assert st.actions_failed == 0, st.last_error
    s3 = aws_client(moto_env, "s3")
    body = s3.get_object(Bucket="lambda-out", Key="to_s3/2.json")["Body"].read()
    assert json.loads(body) == {"bucket": "lambda-out", "n": 2, "device": "cam1"}
    stored = lambda_lines(caplog, "to_s3")
    assert f"stored in {moto_env['AWS_ENDPOINT_URL']} as {ARN.format('to_s3')}" in stored
    echoes = [line for line in lambda_lines(caplog, "echo") if line.startswith("echo pid=")]
    assert len(echoes) == 2
    pids = {re.search(r"pid=(\d+)", line).group(1) for line in echoes}
    assert len(pids) == 1  # one warm process for both calls
    assert "fn=echo" in echoes[0] and '"n": 1' in echoes[0]
    engine.stop()
    assert not pid_alive(int(pids.pop()))  # stop ends the handler processes


def test_handler_that_raises_runs_the_error_action(start_engine, rules_publisher, subscribe, broker):
    errors = subscribe(broker.port, "deeplens/errors")
    engine = start_engine(f"""
        rules:
          - ruleName: buggy
            sql: "SELECT * FROM 'in'"
            actions: [{{lambda: {{functionArn: "{ARN.format('fails')}"}}}}]
            errorAction: {{republish: {{topic: deeplens/errors, qos: 1}}}}
        functions:
          fails: "{CLOUD / 'fails.py'}"
        """)
    rules_publisher.publish("in", {"n": 42})
    _, raw = errors.wait_for(lambda m: True)
    error = json.loads(raw)
    assert error["ruleName"] == "buggy" and error["topic"] == "in" and error["clientId"] == "n/a"
    assert json.loads(base64.b64decode(error["base64OriginalPayload"])) == {"n": 42}
    assert error["failures"] == [{"failedAction": "LambdaAction", "failedResource": ARN.format("fails"),
                                  "errorMessage": "Lambda fails raised ValueError: bad input 42"}]
    # counted once the republish returned: a moment after the subscriber may have the message
    st = wait_until(lambda: (s := status_of(engine, "buggy")).error_action.succeeded and s, what="the error action")
    assert (st.actions_failed, st.error_action.succeeded) == (1, 1)


def test_handler_that_hangs_times_out_and_the_engine_goes_on(start_engine, rules_publisher, caplog):
    caplog.set_level(logging.INFO, logger="rules.lambda")
    engine = start_engine(f"""
        rules:
          - ruleName: stuck
            sql: "SELECT * FROM 'in'"
            actions: [{{lambda: {{functionArn: hangs}}}}]
        functions:
          hangs: {{path: "{CLOUD / 'sometimes_hangs.py'}", timeout: 1}}
        """)
    rules_publisher.publish("in", {"hang": True})
    st = wait_until(lambda: (s := status_of(engine, "stuck")).actions_failed == 1 and s, what="the timeout")
    assert st.last_error == "Task timed out after 1.00 seconds"
    rules_publisher.publish("in", {"hang": False})
    wait_until(lambda: status_of(engine, "stuck").actions_succeeded == 1, what="the next call")
    started = [int(m.group(1)) for line in lambda_lines(caplog, "hangs")
               if (m := re.search(r"\(pid (\d+)\)", line))]
    assert len(started) == 2  # the hung process was ended and a fresh one started
    assert not pid_alive(started[0])


def test_handler_that_cannot_load_fails_each_call_clearly(start_engine, rules_publisher, tmp_path):
    (tmp_path / "broken_import.py").write_text("import nonexistent_module_xyz\n\n"
                                               "def lambda_handler(event, context):\n    pass\n")
    engine = start_engine(f"""
        rules:
          - ruleName: cannot_load
            sql: "SELECT * FROM 'in'"
            actions: [{{lambda: {{functionArn: broken}}}}]
        functions:
          broken: "{tmp_path / 'broken_import.py'}"
        """)
    rules_publisher.publish("in", {"x": 1})
    st = wait_until(lambda: (s := status_of(engine, "cannot_load")).actions_failed == 1 and s, what="the failure")
    assert st.last_error == ("Lambda broken failed to load broken_import.py: "
                             "ModuleNotFoundError: No module named 'nonexistent_module_xyz'")
