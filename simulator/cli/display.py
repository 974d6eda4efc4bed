"""Can a window open here? Asked before any Qt code runs, because Qt does not fail politely: when its platform
plugin cannot load (missing system libraries) or the display named by ``DISPLAY``/``WAYLAND_DISPLAY`` cannot be
opened, it aborts the whole process (SIGABRT) and there is no exception to catch.

Three probes, cheapest first:
1. a display is named at all (``DISPLAY``, ``WAYLAND_DISPLAY``, or an offscreen/VNC ``QT_QPA_PLATFORM``);
2. the libraries Qt's xcb plugin needs are present (``ldd`` on the plugin Qt would load) — for missing ones the
   answer carries the one ``apt-get install`` line for Debian / Raspberry Pi OS;
3. a child process creates a ``QApplication`` on that display; if it dies, the parent lives and reads why.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# soname prefix -> Debian package (what Qt 6's xcb plugin and its helper library load)
DEBIAN_PACKAGES = {
    "libxcb-cursor": "libxcb-cursor0", "libxcb-icccm": "libxcb-icccm4", "libxcb-keysyms": "libxcb-keysyms1",
    "libxcb-image": "libxcb-image0", "libxcb-render-util": "libxcb-render-util0", "libxcb-shape": "libxcb-shape0",
    "libxcb-xinerama": "libxcb-xinerama0", "libxcb-randr": "libxcb-randr0", "libxcb-xkb": "libxcb-xkb1",
    "libxcb-util": "libxcb-util1", "libxcb-shm": "libxcb-shm0", "libxcb-sync": "libxcb-sync1",
    "libxcb-xfixes": "libxcb-xfixes0", "libxcb-render": "libxcb-render0", "libxkbcommon-x11": "libxkbcommon-x11-0",
    "libxkbcommon": "libxkbcommon0", "libX11-xcb": "libx11-xcb1", "libxcb": "libxcb1", "libEGL": "libegl1",
    "libGL": "libgl1", "libfontconfig": "libfontconfig1", "libdbus-1": "libdbus-1-3", "libglib-2.0": "libglib2.0-0",
}
ALL_WINDOW_PACKAGES = ("libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 "
                       "libxcb-shape0 libxcb-xinerama0 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1")
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.M)
_PROBE = ("import sys\nfrom PySide6.QtWidgets import QApplication\napp = QApplication(sys.argv[:1])\n"
          "print('platform:', app.platformName())\n")


@dataclass(frozen=True)
class DisplayCheck:
    ok: bool
    reason: str = ""
    apt: str | None = None  # the apt-get line that fixes it, when libraries are missing

    def message(self) -> str:
        text = f"the window cannot open: {self.reason}"
        if self.apt:
            text += f"\n  install them with: {self.apt}"
        return text


def display_named(env: dict[str, str]) -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
                or env.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc"))


def _platform(env: dict[str, str]) -> str:
    named = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0]
    if named:
        return named
    return "wayland" if env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY") else "xcb"


def plugin_path(platform: str, env: dict[str, str]) -> Path | None:
    """The platform plugin file Qt would load, found without importing Qt."""
    folder = env.get("QT_QPA_PLATFORM_PLUGIN_PATH")
    if not folder:
        spec = importlib.util.find_spec("PySide6")
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = str(Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms")
    candidate = Path(folder) / f"libq{platform}.so"
    return candidate if candidate.is_file() else None


def missing_libraries(plugin: Path, env: dict[str, str]) -> list[str]:
    """Sonames ``ldd`` cannot resolve for the plugin (empty when ldd is unavailable)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20, env=env).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted(set(_NOT_FOUND.findall(out)))


def apt_line(sonames: list[str]) -> str:
    packages = []
    for soname in sonames:
        base = soname.split(".so")[0]
        packages.append(DEBIAN_PACKAGES.get(base, base.lower()))
    return "sudo apt-get install " + " ".join(dict.fromkeys(packages))


def _probe_child(env: dict[str, str], timeout: float) -> DisplayCheck:
    try:
        result = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        return DisplayCheck(False, f"a test window did not open within {timeout:g} s")
    if result.returncode == 0:
        return DisplayCheck(True)
    lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
    useful = next((ln for ln in lines if "display" in ln.lower() or "plugin" in ln.lower()), None)
    why = useful or (lines[-1] if lines else f"exit status {result.returncode}")
    return DisplayCheck(False, f"Qt could not start on this display ({why})")


def check_display(env: dict[str, str] | None = None, timeout: float = 20.0) -> DisplayCheck:
    env = dict(os.environ if env is None else env)
    if not display_named(env):
        return DisplayCheck(False, "no display found (DISPLAY/WAYLAND_DISPLAY unset)")
    platform = _platform(env)
    if platform in ("offscreen", "minimal", "vnc"):
        return DisplayCheck(True)
    plugin = plugin_path(platform, env)
    if plugin is not None:
        missing = missing_libraries(plugin, env)
        if missing:
            return DisplayCheck(False, f"Qt's {platform} plugin needs libraries this system lacks: "
                                       f"{', '.join(missing)}", apt_line(missing))
    return _probe_child(env, timeout)
