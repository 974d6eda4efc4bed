"""Save screenshots of the window for the README, offscreen: ``python -m gui.screenshots [OUT_DIR]``.

Runs the default project on the demo clip (as a Raspberry Pi 4 unless ``--profile`` says otherwise), waits until the
window shows real frames, messages and a latency curve, then writes ``screenshot.png`` (the main view) and
``screenshot-log.png`` (the Lambda log tab) to OUT_DIR (default: docs/).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui.app import application  # noqa: E402 - the platform must be chosen before Qt starts
from gui.main_window import MainWindow  # noqa: E402
from simulator.config import RunConfig  # noqa: E402
from simulator.paths import PROJECT_ROOT  # noqa: E402

SIZE = (1440, 900)


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Run the event loop until ``predicate()`` holds or ``timeout`` seconds pass."""
    app = application()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.02)
    return False


def is_live(window: MainWindow, messages: int = 8, samples: int = 40) -> bool:
    return (window.project_view.frames_shown > 5 and window.device_view.frames_shown > 5
            and len(window.inspector.model.rows) >= messages
            and sum(1 for h in window.plot.history if h[1]) >= samples)


def take(out_dir: Path, profile: str = "raspberry-pi-4", timeout: float = 120.0) -> list[Path]:
    config = RunConfig(source="demo", profile=profile, mqtt_port=0, http_port=0, thing_name="deeplens_workshop")
    out_dir.mkdir(parents=True, exist_ok=True)
    application()
    window = MainWindow()
    window.resize(*SIZE)
    window.show()
    window.project_view.setFocus()  # no focus ring on a picker in the pictures
    saved: list[Path] = []
    try:
        window.start(config)
        if not wait_until(lambda: is_live(window), timeout):
            raise RuntimeError(f"the window did not show live frames and messages within {timeout:.0f} s; "
                               f"banner: {window.banner.text() or 'none'}")
        first = window.inspector.model.index(max(0, len(window.inspector.model.rows) - 3), 0)
        window.inspector.table.selectRow(first.row())
        wait_until(lambda: False, 0.3)
        saved.append(_save(window, out_dir / "screenshot.png"))
        window.tabs.setCurrentWidget(window.log_view)
        wait_until(lambda: False, 0.3)
        saved.append(_save(window, out_dir / "screenshot-log.png"))
    finally:
        window.close()
    return saved


def _save(window: MainWindow, path: Path) -> Path:
    if not window.grab().save(str(path)):
        raise RuntimeError(f"could not write {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gui.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=PROJECT_ROOT / "docs")
    parser.add_argument("--profile", default="raspberry-pi-4", help="hardware profile shown (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    try:
        for path in take(args.out_dir, args.profile, args.timeout):
            print(path)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
