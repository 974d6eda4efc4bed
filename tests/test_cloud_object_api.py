"""``GET /api/cloud/object``: an object's bytes from the local AWS, and clear answers for what is missing — over real
HTTP against the running viewer, with an object put through a real boto3 client."""

from __future__ import annotations

import boto3
import pytest
import requests


@pytest.fixture
def running(run_device, video_file):
    device, viewer = run_device(project="", source=str(video_file), cloud_port=0)
    assert device.cloud is not None
    return device, f"http://127.0.0.1:{viewer.port}/api/cloud/object"


def put(device, bucket: str, key: str, body: bytes) -> None:
    s3 = boto3.client("s3", endpoint_url=device.cloud.endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def test_an_object_is_served_with_its_type(running):
    device, url = running
    put(device, "frames", "cam/1.jpg", b"\xff\xd8\xff not really a jpeg")
    got = requests.get(url, params={"bucket": "frames", "key": "cam/1.jpg"}, timeout=30)
    assert got.status_code == 200
    assert got.content == b"\xff\xd8\xff not really a jpeg"
    assert got.headers["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(("params", "missing"), [
    ({"bucket": "frames"}, "key is required"),
    ({"bucket": "frames", "key": ""}, "key is required"),
    ({"key": "cam/1.jpg"}, "bucket is required"),
    ({}, "bucket and key are required"),
])
def test_a_missing_parameter_is_a_bad_request_naming_it(running, params, missing):
    _device, url = running
    got = requests.get(url, params=params, timeout=30)
    assert got.status_code == 400
    assert got.text.startswith(missing)


def test_an_unknown_object_is_not_found(running):
    device, url = running
    put(device, "frames", "cam/1.jpg", b"x")
    got = requests.get(url, params={"bucket": "frames", "key": "cam/2.jpg"}, timeout=30)
    assert got.status_code == 404
    assert "cam/2.jpg" in got.text and "frames" in got.text
