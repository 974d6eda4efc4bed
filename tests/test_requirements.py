"""Everything a Raspberry Pi install needs, checked without a Pi: pip resolves the README's requirement files for
aarch64 / CPython 3.11 / Raspberry Pi OS Bookworm (glibc 2.36) using binary wheels only, so a pin without an
aarch64 wheel fails here instead of on a user's Pi. The window's file is checked for Trixie (glibc 2.41).

Both resolutions download a few hundred MB of wheels (the index serves no separate metadata), so they are started
as soon as collection ends when these tests are selected (tests/conftest.py), and run while the other tests do.

pyproject.toml pins what the requirement files pin (checked here without the network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.pi_resolution import start_resolutions, stop_resolutions

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def resolutions():
    yield start_resolutions()  # already running when they were started at the end of collection
    stop_resolutions()


@pytest.mark.network  # pip asks PyPI
def test_headless_and_test_requirements_resolve_for_a_pi_on_bookworm(resolutions):
    names = resolutions["bookworm"].names()
    assert {"openvino", "opencv-python-headless", "numpy", "amqtt", "av", "pytest"} <= set(names)
    assert "pyside6-essentials" not in names  # the README's commands install on Bookworm


@pytest.mark.network
def test_window_requirements_resolve_for_a_pi_on_trixie(resolutions):
    assert "pyside6-essentials" in resolutions["trixie"].names()


def pins(file: str) -> set[str]:
    """The requirement lines of a requirement file (not its ``-r`` includes), spaces and quotes made alike."""
    lines = (line.split("  #")[0].strip() for line in (ROOT / file).read_text().splitlines())
    return {alike(line) for line in lines if line and not line.startswith(("#", "-r"))}


def alike(requirement: str) -> str:
    return requirement.replace(" ", "").replace("'", '"')


def test_the_package_pins_what_the_requirement_files_pin():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {alike(r) for r in project["dependencies"]} == pins("requirements.txt")
    assert {alike(r) for r in project["optional-dependencies"]["gui"]} == pins("requirements-gui.txt")
    test = {alike(r) for r in project["optional-dependencies"]["test"]}  # with the window's test tool (dev)
    assert pins("requirements-test.txt") <= test <= pins("requirements-test.txt") | pins("requirements-dev.txt")
