"""The cloud half through the simulator: a Lambda's environment (local AWS, --env, project settings), and the
people counter's whole chain — Lambda → MQTT → rules → DynamoDB + cloud Lambda → alert, frames in S3."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from tests.conftest import ROOT

ENV_LAMBDA = ROOT / "tests/lambdas/env_report.py"


def _env_seen(sub) -> dict:
    _, payload = sub.wait_for(lambda m: m[1].startswith(b"{"), timeout=60)
    return json.loads(payload)


def test_lambda_env_points_boto3_at_the_local_cloud(run_device, subscribe, video_file, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production")  # the user's own AWS profile never reaches a Lambda
    device, _ = run_device(project=str(ENV_LAMBDA), source=str(video_file), cloud_port=0,
                           env={"BUCKET_NAME": "frames-bucket"})
    seen = _env_seen(subscribe(device.mqtt_port, "$aws/things/+/infer"))
    assert seen["AWS_ENDPOINT_URL"] == device.cloud.endpoint and seen["DEEPLENS_SIM_CLOUD"] == "local"
    assert seen["AWS_DEFAULT_REGION"] == seen["AWS_REGION"] == "us-east-1" and seen["AWS_ACCESS_KEY_ID"]
    assert seen["AWS_PROFILE"] is None and seen["BUCKET_NAME"] == "frames-bucket"
    status = device.status().cloud
    assert status.mode == "local" and status.endpoint == device.cloud.endpoint


def test_cloud_aws_sends_calls_to_real_aws(run_device, subscribe, video_file):
    device, _ = run_device(project=str(ENV_LAMBDA), source=str(video_file), cloud="aws")
    seen = _env_seen(subscribe(device.mqtt_port, "$aws/things/+/infer"))
    assert seen["AWS_ENDPOINT_URL"] is None and seen["DEEPLENS_SIM_CLOUD"] is None
    assert device.cloud is None and device.status().cloud.mode == "aws"


@pytest.mark.network
def test_people_counter_runs_the_whole_chain(run_device, subscribe):
    device, _ = run_device(project="people_counter", source="demo", cloud_port=0,
                           rules=[ROOT / "projects/people_counter/rules.yaml"])  # also beside it: loaded once
    alerts = subscribe(device.mqtt_port, f"deeplens/{device.thing_name}/alerts")
    deadline, rules = time.monotonic() + 180, {}
    while time.monotonic() < deadline:
        rules = {r.name: r for r in device.status().rules}
        if all(r.actions_succeeded > 2 for r in rules.values()) and len(rules) == 2:
            break
        time.sleep(0.5)
    assert set(rules) == {"people_to_dynamodb", "people_count_changes"}, rules
    for r in rules.values():
        assert r.matched > 2 and r.actions_succeeded > 2 and r.actions_failed == 0, r
    assert json.loads(rules["people_to_dynamodb"].last_output)["people"] > 0
    _, alert = alerts.wait_for(lambda m: True, timeout=60)  # the cloud Lambda's alert, published through boto3
    assert json.loads(alert)["thing"] == device.thing_name
    # a second, independent boto3 client sees what the rules and the Lambda wrote
    cloud = device.cloud
    kw = {"endpoint_url": cloud.endpoint, "region_name": "us-east-1", "aws_access_key_id": "x",
          "aws_secret_access_key": "x"}
    items = boto3.client("dynamodb", **kw).scan(TableName="PeopleCounts")["Items"]
    assert items and all(int(i["people"]["N"]) > 0 for i in items)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        objects = boto3.client("s3", **kw).list_objects_v2(Bucket="deeplens-people-frames").get("Contents", [])
        if objects:
            break
        time.sleep(1)
    assert objects and objects[0]["Key"].startswith(device.thing_name) and objects[0]["Key"].endswith(".jpg")
