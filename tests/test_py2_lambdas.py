"""Python 2 Lambdas run unmodified: each is modernised, imported for real in its own process, and publishes the
JSON its Python 2 original did on the device (values computed by hand from Python 2's rules).

``run_lambda`` imports the Lambda the way the simulator's Lambda host does (``tests/lambdas/py2/_standins/
run_lambda.py``: the import guard, the download guard, the modernised mirror) with stand-in ``awscam`` (a fixed
640x480 frame) and ``greengrasssdk`` (publishes printed on stdout). Once the host calls these, ``run_lambda`` can
become the real end-to-end run without changing a case: ``device, _ = run_device(project=str(case_file),
source="pattern:640x480@30", artifacts=artifacts)``, ``sub = subscribe(device.mqtt_port, "$aws/things/+/infer")``,
then ``json.loads(sub.wait_for(lambda m: m[1].startswith(b"{"))[1])`` — the Lambdas use only the frame's shape.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "tests" / "lambdas" / "py2"
RUNNER = LAMBDAS / "_standins" / "run_lambda.py"
THING = "deeplens_py2test"


@dataclass(frozen=True)
class Case:
    lambda_file: str
    expected: dict
    log_lines: tuple[str, ...] = field(default=())


CASES = {
    "2017 style: division, dict methods, print, except": Case(
        "greengrass_2017/greengrassHelloWorld.py",
        {
            # yscale = float(480 / 300) = 1.0, xscale = float(640 / 300) = 2.0;
            # person: int(2.0 * 30) + int((30 - 150) + 150) = 90, int(1.0 * 60) = 60; dog: 200 + 100, 10
            "boxes": {"person": [90, 60], "dog": [300, 10]},
            "total": 2,
            "cells": 307,          # 640 * 480 / 1000
            "band": 68,            # 480 / 7
            "rest": 4,             # 480 % 7
            "quarter_band": 34,    # 480 // 7 / 2
            "loop": 11,            # (0 + 1 + ... + 9) / 4
            "mean_label": 13,      # (15 + 12) / 2, both ints at run time
            "halves": [3, 3.5, -4],  # 7 / 2, 7.0 / 2, -7 / 2 (floor)
            "ratio": 0.75,
            "percent": 37,         # 100 * 3 / 8
            "negative": -4,
            "best": "person",
            "confident": 15,
            "pair": [12, 0.4],
            "repr": "11",
            "perm": 493,           # 0755
            "big": 1099511627776,  # long(2) ** 40
            "is_text": True,
            "error": "invalid literal for int() with base 10: 'x'",
        },
        ("modernised from Python 2: 28 changes (division ×12, dict ×2, except ×2, raw_input ×1, print ×1, "
         "has_key ×1, xrange ×1, map ×1, unicode ×1, filter ×1, zip ×1, backticks ×1, number literals ×1, long ×1, "
         "basestring ×1)",
         "greengrassHelloWorld.py:41: frame.shape[0] / input_height → frame.shape[0] // input_height (both int)",
         "greengrassHelloWorld.py:29: value / 2 → old_div(value, 2) (types known only at run time)")),
    "mixed tabs and spaces": Case(
        "tabs_mixed/lambda_function.py",
        {"mean": 5, "mean_pair": 3, "large": 75, "help_line": "\trun it on the device", "width": 213,
         "height": 160},
        ("modernised from Python 2: 13 changes (tabs ×8, division ×3, print ×2)",)),
    "StringIO carrying bytes and text": Case(
        "stringio_bytes/lambda_function.py",
        {"format": "JPEG", "size": [64, 48], "png_magic": "PNG", "jpeg_same": True, "log": "size=64x48",
         "csv_lines": 2},
        ("modernised from Python 2: 7 changes (imports ×4, StringIO→BytesIO ×3)",
         "lambda_function.py:28: StringIO.StringIO(jpeg.tostring()) → io.BytesIO(jpeg.tostring()) "
         "(bytes flow through it)")),
    "bundled Python 2 PIL, a module beside it, mxnet": Case(
        "bundled_pil/lambda_function.py",
        # 100 lit pixels; 100 * 100 / 1024 = 9; the 480p display's centre: 858 / 2, 480 / 2
        {"lit": 100, "area_share": 9, "labels": ["background", "square"], "centre": [429, 240],
         "mxnet": "MXNetUnavailableError"},
        ("bundled PIL (a Python 2 build) at {dir}/PIL is bypassed: using the host's PIL",
         "in lambda_function.py, local_display.py")),
    "bundled 2018 greengrasssdk, boto3, botocore, futures, awscam stub": Case(
        "bundled_sdk/lambda_function.py",
        {"client": "S3", "session": "Session", "has_client": True, "squares": [1, 4, 9], "frame_rows": 480},
        ("bundled greengrasssdk (the simulator's device module) at {dir}/greengrasssdk is bypassed: "
         "using the simulator's greengrasssdk",
         "bundled awscam (the simulator's device module) at {dir}/awscam.py is bypassed",
         "bundled botocore (an old AWS SDK copy (breaks on Python 3.10+)) at {dir}/botocore is bypassed",
         "bundled boto3 (an old AWS SDK copy (breaks on Python 3.10+)) at {dir}/boto3 is bypassed",
         "bundled concurrent (a Python 2 backport of a standard module) at {dir}/concurrent is bypassed")),
    "string module, cmp sorting, round, commands, implicit relative import": Case(
        "strings_and_sorting/lambda_function.py",
        {
            "by_length": ["Alpha", "Bravo", "delta", "charlie"],
            "sorted": ["Alpha", "Bravo", "charlie", "delta"],
            "ranked": ["alpha", "delta", "charlie"],
            "pairs": [[1, "b"], [0, "a"], [1, "a"]],
            "letters": "abcdeAB",
            "joined": "Alpha+Bravo+charlie+delta",
            "spaced": "a b",
            "upper": "DEEPLENS",
            "parts": ["a", "b", "c"],
            "replaced": "1-2-3",
            "number": 43,
            "round_half": 3.0,     # Python 2 rounds halves away from zero and returns a float
            "round_tie": 0.13,     # 0.125 is exact in binary: a true tie
            "round_int": 7.0,
            "total": 13,
            "echo": "hi",
            "described": "6 items",
        },
        ("in lambda_function.py, helpers/fmt.py",)),
    "downloads at import": Case(
        "downloads_at_import/lambda_function.py",
        {"unpacked": [], "has_client": True, "labels": ["cat", "dog"], "input": 224,
         "synset": ["n02084071 dog", "n02121808 cat"], "failed": True},
        ("download of https://s3.amazonaws.com/deeplens-workshop-assets/boto3-1.9.62.zip answered with an empty "
         "archive: the simulator already provides boto3",
         "download of https://deeplens-models.s3.amazonaws.com/info/model_info.json served from the local copy "
         "{artifacts}/downloads/model_info.json",
         "download of s3://deeplens-sagemaker-models/synsets/synset.txt served from the local copy "
         "{artifacts}/downloads/synset.txt",
         "cannot download {unreachable} (",
         "put a copy at {artifacts}/downloads/missing.bin and the simulator serves it")),
}


def same_json(a, b) -> bool:
    """Equal, and of the same JSON types (3.0 is not 3)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def environment(tmp_path):
    """What the downloading Lambda reaches: a real HTTP server with its labels, local copies in the artifacts
    folder, a URL nothing listens on, a private /tmp."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "labels.json").write_text('["cat", "dog"]')
    artifacts = tmp_path / "artifacts"
    (artifacts / "downloads").mkdir(parents=True)
    (artifacts / "downloads" / "model_info.json").write_text('{"input": 224}')
    (artifacts / "downloads" / "synset.txt").write_text("n02084071 dog\nn02121808 cat\n")
    (tmp_path / "tmp").mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        unreachable = f"http://127.0.0.1:{sock.getsockname()[1]}/missing.bin"
    yield {"LABELS_URL": f"http://127.0.0.1:{server.server_address[1]}/labels.json",
           "UNREACHABLE_URL": unreachable, "LAMBDA_TMP": str(tmp_path / "tmp"), "ARTIFACTS": str(artifacts)}
    server.shutdown()
    server.server_close()


def run_lambda(lambda_file: Path, run_dir: Path, env: dict[str, str]) -> tuple[list[dict], str]:
    """(the JSON payloads the Lambda published, its log) after importing it in its own process."""
    environment = {**os.environ, **env, "AWS_IOT_THING_NAME": THING, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(RUNNER), str(lambda_file), str(run_dir / "lambda-py3"),
                           env["ARTIFACTS"]], cwd=lambda_file.parent, env=environment, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    published = [json.loads(line[len("PUBLISH "):]) for line in proc.stdout.splitlines()
                 if line.startswith("PUBLISH ")]
    assert all(p["topic"] == f"$aws/things/{THING}/infer" for p in published)
    return [json.loads(p["payload"]) for p in published], proc.stderr


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("name", CASES)
def test_python2_lambda_publishes_what_it_did_on_the_device(name, tmp_path, environment):
    case = CASES[name]
    lambda_file = LAMBDAS / case.lambda_file
    before = _digest(lambda_file.parent)
    payloads, log = run_lambda(lambda_file, tmp_path / "run", environment)
    assert len(payloads) == 1, (payloads, log)
    assert same_json(payloads[0], case.expected), (payloads[0], case.expected)
    for line in case.log_lines:
        expected = line.format(dir=lambda_file.parent, artifacts=environment["ARTIFACTS"],
                               unreachable=environment["UNREACHABLE_URL"])
        assert expected in log, (expected, log)
    assert _digest(lambda_file.parent) == before  # the Lambda's own files are never changed


@pytest.mark.parametrize("name", CASES)
def test_python2_lambda_runs_unmodified_in_the_simulator(name, environment, run_device, subscribe):
    """The same cases through the real pipeline: the Lambda host modernises and imports the Lambda, the real
    camera feeds it, its publish crosses the embedded broker to a real subscriber."""
    case = CASES[name]
    lambda_file = LAMBDAS / case.lambda_file
    env = {k: v for k, v in environment.items() if k != "ARTIFACTS"}
    device, _ = run_device(project=str(lambda_file), source="pattern:640x480@30",
                           artifacts=Path(environment["ARTIFACTS"]), env=env, cloud_port=0)
    lines: list[str] = []
    device.on_lambda_line(lambda _kind, line: lines.append(line), replay=True)  # it may have printed already
    sub = subscribe(device.mqtt_port, "$aws/things/+/infer")
    _, payload = sub.wait_for(lambda m: m[1].startswith(b"{"), timeout=120)
    assert same_json(json.loads(payload), case.expected), (json.loads(payload), case.expected)
    summary = next((line for line in case.log_lines if line.startswith("modernised from Python 2")), None)
    if summary is not None:
        deadline = time.monotonic() + 30
        while not any(summary in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(summary in line for line in lines), lines[-20:]
