"""Everything a Raspberry Pi install needs, checked without a Pi: pip resolves the README's requirement files for
aarch64 / CPython 3.11 / Raspberry Pi OS Bookworm (glibc 2.36) using binary wheels only, so a pin without an
aarch64 wheel fails here instead of on a user's Pi. The window's file is checked for Trixie (glibc 2.41)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.support.needs import unavailable

pytestmark = pytest.mark.network  # pip asks PyPI


class Resolution:
    """One ``pip install --dry-run`` for aarch64, started at once (both resolutions run side by side)."""

    def __init__(self, files: list[str], glibc_minor: int, where) -> None:
        platforms = [f"manylinux_2_{v}_aarch64" for v in range(glibc_minor, 16, -1)] + ["manylinux2014_aarch64"]
        self.report = where / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--target", str(where / "target"), "--only-binary=:all:", "--python-version", "3.11",
               "--implementation", "cp", "--report", str(self.report),
               *(arg for p in platforms for arg in ("--platform", p)), *(arg for f in files for arg in ("-r", f))]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def names(self) -> list[str]:
        _, stderr = self.proc.communicate(timeout=900)
        if self.proc.returncode != 0 and ("Could not fetch" in stderr or "NewConnectionError" in stderr):
            unavailable("PyPI", stderr.strip().splitlines()[-1])
        assert self.proc.returncode == 0, stderr[-3000:]
        report = json.loads(self.report.read_text())
        return [re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower() for item in report["install"]]  # PEP 503


@pytest.fixture(scope="module")
def resolutions(tmp_path_factory):
    found = {"bookworm": Resolution(["requirements.txt", "requirements-test.txt"], 36,
                                    tmp_path_factory.mktemp("bookworm")),
             "trixie": Resolution(["requirements-gui.txt"], 41, tmp_path_factory.mktemp("trixie"))}
    yield found
    for r in found.values():
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


def test_headless_and_test_requirements_resolve_for_a_pi_on_bookworm(resolutions):
    names = resolutions["bookworm"].names()
    assert {"openvino", "opencv-python-headless", "numpy", "amqtt", "av", "pytest"} <= set(names)
    assert "pyside6-essentials" not in names  # the README's commands install on Bookworm


def test_window_requirements_resolve_for_a_pi_on_trixie(resolutions):
    assert "pyside6-essentials" in resolutions["trixie"].names()
