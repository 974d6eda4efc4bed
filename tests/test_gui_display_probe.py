"""The window never takes the process down: an unusable display or a missing system library is found before Qt
runs, said in one message (with the apt-get line for missing libraries), and the run goes on headless."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from simulator.cli.display import DisplayCheck, apt_line, check_display
from tests.conftest import ROOT

pytest.importorskip("PySide6")
MAIN = [sys.executable, str(ROOT / "main.py")]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(extra)
    return env


def _run_window(env: dict[str, str], tiny_artifacts) -> subprocess.CompletedProcess:
    return subprocess.run([*MAIN, "--duration", "2", "--mqtt-port", "0", "--http-port", "0", "--source", "pattern",
                           "--artifacts", str(tiny_artifacts), "--project", str(ROOT / "tests/lambdas/style2018")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture
def broken_xcb_plugin(tmp_path):
    """Qt's xcb plugin as it is on a machine without libxcb-icccm: a copy whose helper library asks for an
    icccm library this system does not have (the same bytes, one soname changed)."""
    import PySide6

    qt = os.path.join(os.path.dirname(PySide6.__file__), "Qt")
    platforms, lib = tmp_path / "plugins" / "platforms", tmp_path / "lib"
    platforms.mkdir(parents=True)
    lib.mkdir()
    shutil.copy(os.path.join(qt, "plugins", "platforms", "libqxcb.so"), platforms)
    with open(os.path.join(qt, "lib", "libQt6XcbQpa.so.6"), "rb") as fh:
        helper = fh.read()
    assert helper.count(b"libxcb-icccm.so.4\0") == 1
    (lib / "libQt6XcbQpa.so.6").write_bytes(helper.replace(b"libxcb-icccm.so.4\0", b"libxcb-icccm.so.7\0"))
    return {"QT_QPA_PLATFORM_PLUGIN_PATH": str(platforms),  # the copy first, then the other Qt libraries
            "LD_LIBRARY_PATH": os.pathsep.join([str(lib), os.path.join(qt, "lib")])}


def test_an_unusable_display_is_found_and_the_run_goes_headless(tiny_artifacts):
    env = _env(DISPLAY=":87")  # no X server answers there
    check = check_display(env)
    assert not check.ok and ":87" in check.reason and check.apt is None
    result = _run_window(env, tiny_artifacts)
    assert result.returncode == 0, result.stderr[-2000:]  # not 134 (SIGABRT)
    assert "the window cannot open: Qt could not start on this display" in result.stderr
    assert "running headless instead" in result.stderr
    assert "viewer:  http://127.0.0.1:" in result.stdout


def test_a_missing_system_library_names_the_package_to_install(broken_xcb_plugin, tiny_artifacts):
    env = _env(DISPLAY=":87", **broken_xcb_plugin)
    check = check_display(env)
    assert not check.ok and "libxcb-icccm.so.7" in check.reason
    assert check.apt == "sudo apt-get install libxcb-icccm4"
    result = _run_window(env, tiny_artifacts)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "needs libraries this system lacks: libxcb-icccm.so.7" in result.stderr
    assert "install them with: sudo apt-get install libxcb-icccm4" in result.stderr
    assert "running headless instead" in result.stderr


def test_offscreen_is_a_usable_display_and_packages_are_named():
    assert check_display(_env(QT_QPA_PLATFORM="offscreen")).ok
    assert apt_line(["libxcb-keysyms.so.1", "libxcb-icccm.so.4", "libxcb-icccm.so.4"]) == \
        "sudo apt-get install libxcb-keysyms1 libxcb-icccm4"
    assert DisplayCheck(False, "x", "sudo apt-get install y").message().endswith("sudo apt-get install y")
