"""What the Lambda host uses around a Python 2 Lambda: the mirror of modernised copies, the import guard, the
download guard, the device files, the ``mxnet`` stand-in, and ``main.py lambda diff``."""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from simulator.cli import lambda_cmd
from simulator.errors import LambdaError
from simulator.runtime.py2 import device_file, device_mac, open_device_file, prepare_lambda
from simulator.runtime.py2.downloads import DownloadGuard, basename, empty_archive

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "tests" / "lambdas" / "py2"


def run_script(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- the mirror of modernised copies -------------------------------------------------------------------------

def test_prepare_mirrors_the_folder_and_never_touches_it(tmp_path, caplog):
    folder = shutil.copytree(LAMBDAS / "bundled_pil", tmp_path / "lambda")
    before = snapshot(folder)
    out = tmp_path / "run" / "lambda-py3"
    with caplog.at_level(logging.INFO, logger="lambda.py2"):
        prepared = prepare_lambda(folder / "lambda_function.py", out)
    assert snapshot(folder) == before
    assert prepared.path == out / "lambda_function.py" and prepared.sys_path == out
    assert prepared.summary == ("modernised from Python 2: 7 changes (division ×3, except ×1, print ×1, has_key ×1, "
                                "raise ×1) in lambda_function.py, local_display.py")
    assert prepared.summary in caplog.text
    assert "local_display.py:13: width / 2 → old_div(width, 2) (types known only at run time)" in caplog.text
    assert [(c.kind, c.line) for c in prepared.changes] == [("except", 27), ("print", 31), ("division", 34)]
    for name in ("lambda_function.py", "local_display.py"):
        assert not (out / name).is_symlink()
        compile((out / name).read_text(), name, "exec")
    for name in ("labels.txt", "PIL"):
        assert (out / name).is_symlink() and (out / name).resolve() == folder / name
    (out / "stale.py").write_text("left over from the last run")
    again = prepare_lambda(folder / "lambda_function.py", out)
    assert again.summary == prepared.summary and not (out / "stale.py").exists()


def test_prepare_leaves_a_python3_lambda_where_it_is(tmp_path):
    lambda_file = ROOT / "tests" / "lambdas" / "style2018" / "lambda_function.py"
    prepared = prepare_lambda(lambda_file, tmp_path / "out")
    assert (prepared.path, prepared.sys_path, prepared.summary) == (lambda_file, lambda_file.parent, None)
    assert not (tmp_path / "out").exists()


def test_a_python3_lambda_never_loads_the_converter(tmp_path):
    """The Lambda host's start imports only what a Python 3 Lambda needs; the converter loads for a Python 2 file."""
    code = ("import sys; from pathlib import Path; from simulator.runtime import py2; "
            "py2.install_import_guards(Path(sys.argv[1]).parent); py2.prepare_lambda(Path(sys.argv[1]), "
            "Path(sys.argv[2])); "
            "print(sorted(m for m in sys.modules if m.endswith(('py2.convert', 'fissix.refactor'))))")
    py3 = ROOT / "tests" / "lambdas" / "style2018" / "lambda_function.py"
    py2 = LAMBDAS / "greengrass_2017" / "greengrassHelloWorld.py"
    assert py2.is_file()
    loaded = [subprocess.run([sys.executable, "-c", code, str(f), str(tmp_path / f"out{i}")], cwd=ROOT,
                             capture_output=True, text=True, timeout=120, check=True).stdout.strip()
              for i, f in enumerate((py3, py2))]
    assert loaded == ["[]", "['fissix.refactor', 'simulator.runtime.py2.convert']"]


def test_prepare_converts_a_python2_module_beside_a_python3_lambda(tmp_path):
    folder = tmp_path / "lambda"
    folder.mkdir()
    (folder / "lambda_function.py").write_text("import helper\nVALUE = helper.half(7)\n")
    (folder / "helper.py").write_text("def half(n):\n    print 'halving', n\n    return n / 2\n")
    (folder / "broken.py").write_text("def f(:\n    pass\n")
    prepared = prepare_lambda(folder / "lambda_function.py", tmp_path / "out")
    assert prepared.path == tmp_path / "out" / "lambda_function.py" and prepared.path.is_symlink()
    assert [c.path.name for c in prepared.files] == ["helper.py"]
    assert prepared.skipped == (f"{folder / 'broken.py'}:1: this line is neither Python 3 nor Python 2 that can be "
                                "modernised: def f(:",)
    assert (tmp_path / "out" / "broken.py").is_symlink()


def test_prepare_reports_an_unconvertible_lambda_and_refuses_a_mirror_inside_it(tmp_path):
    with pytest.raises(LambdaError, match=r"not_python/lambda_function.py:6: .*: def handler\(event, context:"):
        prepare_lambda(LAMBDAS / "not_python" / "lambda_function.py", tmp_path / "out")
    folder = shutil.copytree(LAMBDAS / "tabs_mixed", tmp_path / "lambda")
    with pytest.raises(ValueError, match="must be outside"):
        prepare_lambda(folder / "lambda_function.py", folder / "py3")


# --- bundled packages ------------------------------------------------------------------------------------------

GUARD_SCRIPT = """
import json, logging, os, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
from simulator.runtime.py2 import install_import_guards
lambda_dir = Path.cwd()
finder = install_import_guards(lambda_dir, extra_dirs=(Path(os.environ["OUT"]),))
assert install_import_guards(lambda_dir) is finder
sys.path.insert(0, str(lambda_dir))
import requests, PIL, cv2, mxnet
sys.path.insert(0, os.environ["UNPACKED"])
import boto3
print(json.dumps({name: sys.modules[name].__file__ for name in ("requests", "PIL", "cv2", "boto3", "mxnet")}))
"""


def test_bundled_copies_never_shadow_the_hosts(tmp_path):
    folder = tmp_path / "lambda"
    for package, text in (("requests", "raise ImportError('requests 2.18 from 2018')\n"),
                          ("PIL", "print 'PIL 1.1.7'\n"), ("mxnet", "SOURCE = 'bundled'\n")):
        (folder / package).mkdir(parents=True)
        (folder / package / "__init__.py").write_text(text)
    (folder / "PIL" / "_imaging.so").write_bytes(b"\x7fELF not for Python 3")
    unpacked = tmp_path / "tmp" / "boto3_new"
    (unpacked / "boto3").mkdir(parents=True)
    (unpacked / "boto3" / "__init__.py").write_text("from collections import Mapping\n")
    proc = run_script(GUARD_SCRIPT, folder, OUT=str(tmp_path / "out"), UNPACKED=str(unpacked))
    files = json.loads(proc.stdout)
    for name in ("requests", "PIL", "cv2", "boto3"):
        assert "site-packages" in files[name], (name, files[name])
    assert files["mxnet"] == str(folder / "mxnet" / "__init__.py")  # the host has none: the bundled copy stays
    assert f"bundled requests (an old AWS SDK copy (breaks on Python 3.10+)) at {folder / 'requests'} is bypassed" \
        in proc.stderr
    assert f"bundled PIL (a Python 2 build) at {folder / 'PIL'} is bypassed" in proc.stderr
    assert f"bundled boto3 (an old AWS SDK copy (breaks on Python 3.10+)) at {unpacked / 'boto3' / '__init__.py'} " \
           "is bypassed" in proc.stderr
    assert f"bundled mxnet at {folder / 'mxnet'} is used: the host has no mxnet to replace it" in proc.stderr


# --- downloads -------------------------------------------------------------------------------------------------

def test_download_decisions(tmp_path, caplog):
    guard = DownloadGuard(tmp_path)
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "labels.txt").write_bytes(b"cat\ndog\n")
    assert basename("s3://bucket/a/b%20c.zip") == "b c.zip"
    with caplog.at_level(logging.INFO, logger="lambda.downloads"):
        assert guard.local_answer("https://example.com/files/labels.txt?x=1") == b"cat\ndog\n"
        archive = guard.local_answer("https://s3.amazonaws.com/bucket/boto3-1.9.62.zip")
        assert guard.local_answer("https://example.com/model.params") is None
    assert zipfile.ZipFile(io.BytesIO(archive)).namelist() == []
    assert "answered with an empty archive: the simulator already provides boto3" in caplog.text
    assert f"served from the local copy {tmp_path / 'downloads' / 'labels.txt'}" in caplog.text
    for name in ("botocore-1.12.0.tar.gz", "boto3.tgz", "awscli.tar"):
        with tarfile.open(fileobj=io.BytesIO(empty_archive(name))) as tar:
            assert tar.getmembers() == []
    assert guard.failure("http://h/x/model.bin", OSError("refused")) == (
        f"cannot download http://h/x/model.bin (refused): put a copy at {tmp_path / 'downloads' / 'model.bin'} "
        "and the simulator serves it")


DOWNLOAD_SCRIPT = """
import json, os, sys, tempfile
from simulator.runtime.py2 import install_download_guard
install_download_guard(os.environ["ARTIFACTS"])
import urllib.request, urllib.error
import requests, boto3
base, closed = os.environ["BASE"], os.environ["CLOSED"]
out = {}
out["urlopen"] = urllib.request.urlopen(base + "/data.json").read().decode()
path, _ = urllib.request.urlretrieve(base + "/data.json", os.path.join(os.environ["TMP"], "got.json"))
out["urlretrieve"] = open(path).read()
out["posted_str"] = urllib.request.urlopen(base + "/data.json", "a=1").read().decode()
out["requests"] = requests.get("https://models.example.com/v1/info.json").json()
out["empty"] = len(requests.get("https://s3.amazonaws.com/b/botocore-1.8.0.zip").content)
s3 = boto3.client("s3", region_name="us-east-1")
s3.download_file("bucket", "dir/info.json", os.path.join(os.environ["TMP"], "s3.json"))
out["boto3"] = json.load(open(os.path.join(os.environ["TMP"], "s3.json")))
try:
    urllib.request.urlopen(closed + "/weights.params")
except urllib.error.URLError as exc:
    out["urllib_error"] = str(exc.reason)
try:
    requests.get(closed + "/weights.params")
except requests.ConnectionError as exc:
    out["requests_error"] = str(exc)
print(json.dumps(out))
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.do_GET()


@pytest.fixture
def http_folder(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a temporary folder; yields (folder, base URL)."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_download_guard_in_a_lambda_process(tmp_path, http_folder):
    www, base = http_folder
    (www / "data.json").write_text('{"from": "network"}')
    artifacts = tmp_path / "artifacts"
    (artifacts / "downloads").mkdir(parents=True)
    (artifacts / "downloads" / "info.json").write_text('{"from": "local copy"}')
    closed = closed_port_url()
    proc = run_script(DOWNLOAD_SCRIPT, tmp_path, ARTIFACTS=str(artifacts), BASE=base, CLOSED=closed,
                      TMP=str(tmp_path))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["urlopen"] == out["urlretrieve"] == out["posted_str"] == '{"from": "network"}'
    assert out["requests"] == out["boto3"] == {"from": "local copy"}
    assert out["empty"] == 22  # an empty zip: its end-of-archive record only
    hint = f"put a copy at {artifacts / 'downloads' / 'weights.params'} and the simulator serves it"
    assert out["urllib_error"].startswith(f"cannot download {closed}/weights.params (") and hint in out["urllib_error"]
    assert f"cannot download {closed}/weights.params" in out["requests_error"] and hint in out["requests_error"]


# --- device files and mxnet ------------------------------------------------------------------------------------

def test_device_files():
    mac = device_mac("deeplens_abc")
    assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac)
    first = int(mac[:2], 16)
    assert first & 0b10 and not first & 0b1  # locally administered, unicast
    assert device_mac("deeplens_abc") == mac != device_mac("deeplens_def")
    assert device_file("/sys/class/net/mlan0/address", "deeplens_abc") == (mac + "\n").encode()
    assert device_file("/sys/class/net/../net/mlan0/address", "deeplens_abc") == (mac + "\n").encode()
    assert device_file("/etc/hostname", "x") == b"AWSDeepLens\n"
    assert device_file("/etc/passwd", "x") is None and device_file(3, "x") is None
    assert open_device_file(b"ab\n", "r").readline() == "ab\n"
    assert open_device_file(b"ab\n", "rb").read() == b"ab\n"
    assert open_device_file("é\n".encode("latin-1"), "r", -1, "latin-1").read() == "é\n"  # open()'s arguments


MXNET_SCRIPT = """
import sys
from simulator.device import mxnet
sys.modules["mxnet"] = mxnet
import mxnet as mx
from mxnet import gluon, nd
import mxnet.gluon.nn as nn
print(repr(mx.nd))
for use in (lambda: mx.nd.array([1]), lambda: gluon.Trainer, lambda: nn.Conv2D(8), lambda: mx.cpu() + 1):
    try:
        use()
    except mxnet.MXNetUnavailableError as exc:
        print(exc)
"""


def test_mxnet_imports_and_fails_clearly_on_use(tmp_path):
    lines = run_script(MXNET_SCRIPT, tmp_path).stdout.splitlines()
    assert lines[0] == "<mxnet.nd: MXNet is not available in the DeepLens simulator>"
    used = [re.match(r"MXNet is not available in the DeepLens simulator \((\S+) was used\)", line).group(1)
            for line in lines[1:]]
    assert used == ["mxnet.nd.array", "mxnet.gluon.Trainer", "mxnet.gluon.nn.Conv2D", "mxnet.cpu"]
    assert all("awscam.Model(" in line and "mo.optimize(" in line for line in lines[1:])


# --- main.py lambda diff -----------------------------------------------------------------------------------------

def lambda_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="main.py")
    lambda_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["lambda", *argv])


def test_lambda_diff_prints_the_diff_and_the_summary(capsys):
    path = LAMBDAS / "greengrass_2017" / "greengrassHelloWorld.py"
    before = path.read_bytes()
    assert lambda_cmd.run(lambda_args("diff", str(path))) == 0
    out = capsys.readouterr().out
    assert path.read_bytes() == before
    assert out.startswith(f"--- {path} (Python 2)\n+++ {path} (modernised)\n")
    assert '-        print "frame", frame.shape, "scales", xscale, yscale\n' in out
    assert '+        print("frame", frame.shape, "scales", xscale, yscale)\n' in out
    assert f"{path}:41: division: frame.shape[0] / input_height → frame.shape[0] // input_height (both int)\n" in out
    assert out.splitlines()[-1].startswith("modernised from Python 2: 28 changes (division ×12, ")


def test_lambda_diff_of_python3_and_errors(capsys):
    python3 = ROOT / "tests" / "lambdas" / "style2018" / "lambda_function.py"
    assert lambda_cmd.run(lambda_args("diff", str(python3))) == 0
    assert capsys.readouterr().out == f"{python3} is already Python 3: nothing to modernise\n"
    broken = LAMBDAS / "not_python" / "lambda_function.py"
    with pytest.raises(LambdaError) as info:
        lambda_cmd.run(lambda_args("diff", str(broken)))
    assert str(info.value) == (f"{broken}:6: this line is neither Python 3 nor Python 2 that can be modernised: "
                               "def handler(event, context:")
    with pytest.raises(LambdaError, match="Lambda file not found: /nonexistent/x.py"):
        lambda_cmd.run(lambda_args("diff", "/nonexistent/x.py"))
    with pytest.raises(LambdaError, match="choose: lambda diff FILE"):
        lambda_cmd.run(lambda_args())


def test_the_modernizer_builds_its_grammar_without_a_word_in_the_lambda_log(tmp_path):
    """fissix builds its grammar tables on first use (an empty per-user cache) and logs that on the root logger,
    which is the Lambda's log; the runtime loads it quietly. Without that, the same first import does log it."""
    root = Path(__file__).resolve().parent.parent
    log_all = "import logging; logging.basicConfig(level=logging.INFO); "

    def first_import(module: str, home: Path) -> str:
        env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
        done = subprocess.run([sys.executable, "-c", log_all + f"import {module}"], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert list((home / ".cache" / "fissix").rglob("*.pickle")), "the grammar tables were not built"
        return done.stderr

    assert "Generating grammar tables" in first_import("fissix.pygram", tmp_path / "plain")
    assert "grammar tables" not in first_import("simulator.runtime.py2", tmp_path / "runtime")
