"""Everything a Raspberry Pi install needs, checked without a Pi: pip resolves the README's requirement files for
aarch64 / CPython 3.11 / Raspberry Pi OS Bookworm (glibc 2.36) using binary wheels only, so a pin without an
aarch64 wheel fails here instead of on a user's Pi. The window's file is checked for Trixie (glibc 2.41)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.support.needs import unavailable

pytestmark = pytest.mark.network  # pip asks PyPI


def _resolve(files: list[str], glibc_minor: int, tmp_path) -> list[str]:
    platforms = [f"manylinux_2_{v}_aarch64" for v in range(glibc_minor, 16, -1)] + ["manylinux2014_aarch64"]
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
           "--target", str(tmp_path / "target"), "--only-binary=:all:", "--python-version", "3.11",
           "--implementation", "cp", "--report", str(tmp_path / "report.json"),
           *(arg for p in platforms for arg in ("--platform", p)), *(arg for f in files for arg in ("-r", f))]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 and ("Could not fetch" in done.stderr or "NewConnectionError" in done.stderr):
        unavailable("PyPI", done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    return [item["metadata"]["name"].lower() for item in report["install"]]


def test_headless_and_test_requirements_resolve_for_a_pi_on_bookworm(tmp_path):
    names = _resolve(["requirements.txt", "requirements-test.txt"], 36, tmp_path)
    assert {"openvino", "opencv-python-headless", "numpy", "amqtt", "av", "pytest"} <= set(names)
    assert "pyside6-essentials" not in names  # the README's commands install on Bookworm


def test_window_requirements_resolve_for_a_pi_on_trixie(tmp_path):
    assert "pyside6-essentials" in _resolve(["requirements-gui.txt"], 41, tmp_path)
