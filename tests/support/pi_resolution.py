"""The Raspberry Pi resolutions of tests/test_requirements.py: ``pip install --dry-run`` for aarch64, started once per
session (by tests/conftest.py as soon as collection ends when those tests are selected, else by their fixture)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.needs import unavailable

ROOT = Path(__file__).resolve().parent.parent.parent


class Resolution:
    """One ``pip install --dry-run`` for aarch64, started at once (both resolutions run side by side)."""

    def __init__(self, files: list[str], glibc_minor: int, where: Path) -> None:
        platforms = [f"manylinux_2_{v}_aarch64" for v in range(glibc_minor, 16, -1)] + ["manylinux2014_aarch64"]
        where.mkdir(parents=True, exist_ok=True)
        self.where, self.report = where, where / "report.json"
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


_started: dict[str, Resolution] = {}


def start_resolutions() -> dict[str, Resolution]:
    """Start both resolutions (once per session) in a temporary folder; the fixture below collects them."""
    if not _started:
        where = Path(tempfile.mkdtemp(prefix="pi-resolution-"))
        _started["bookworm"] = Resolution(["requirements.txt", "requirements-test.txt"], 36, where / "bookworm")
        _started["trixie"] = Resolution(["requirements-gui.txt"], 41, where / "trixie")
    return _started


def stop_resolutions() -> None:
    """Stop what is still running and remove the temporary folder."""
    for r in _started.values():
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()
        shutil.rmtree(r.where.parent, ignore_errors=True)
    _started.clear()
