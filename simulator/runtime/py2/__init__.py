"""Python 2 DeepLens Lambdas, run unmodified: modernised on load, their bundled packages and downloads tamed.

The Lambda host calls, in order, before importing a Lambda:

- ``install_import_guards(lambda_dir, extra_dirs=(out_dir,))``: bundled ``greengrasssdk``, 2018 ``boto3``,
  Python 2 ``PIL/`` ... never shadow the host's;
- ``install_download_guard(artifacts)``: downloads at import are answered locally when they can be;
- ``prepare_lambda(lambda_file, out_dir)``: Python 2 files are modernised into a mirror of the Lambda's folder;
  import ``.path`` with ``.sys_path`` first on ``sys.path``.

``device_file(path, thing_name)`` answers the device files Lambdas read (the Wi-Fi MAC, the host name);
``explain_syntax_error(path, exc)`` tells a Python 2 Lambda (None: it is modernised on load) from a broken one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from simulator.runtime.py2 import quiet_grammar  # noqa: F401 - first: before anything imports fissix

if TYPE_CHECKING:
    from simulator.runtime.py2.convert import (
        Conversion,
        NotConvertibleError,
        convert_file,
        convert_source,
        explain_syntax_error,
    )
    from simulator.runtime.py2.detect import python2_reason
    from simulator.runtime.py2.devicefiles import device_file, device_mac, open_device_file
    from simulator.runtime.py2.downloads import DownloadGuard, install_download_guard
    from simulator.runtime.py2.fixbase import Change
    from simulator.runtime.py2.guards import HOST_WINS, HostFirstFinder, install_import_guards
    from simulator.runtime.py2.prepare import Prepared, prepare_lambda

# Each name loads its module on first use: a Python 3 Lambda's start never imports the converter (fissix's
# fixers and grammar, ~60 ms), which only a Python 2 file needs.
_HOME = {
    "Conversion": "convert", "NotConvertibleError": "convert", "convert_file": "convert",
    "convert_source": "convert", "explain_syntax_error": "convert", "python2_reason": "detect",
    "device_file": "devicefiles", "device_mac": "devicefiles", "open_device_file": "devicefiles",
    "DownloadGuard": "downloads", "install_download_guard": "downloads", "Change": "fixbase",
    "HOST_WINS": "guards", "HostFirstFinder": "guards", "install_import_guards": "guards",
    "Prepared": "prepare", "prepare_lambda": "prepare",
}

__all__ = [
    "HOST_WINS", "Change", "Conversion", "DownloadGuard", "HostFirstFinder", "NotConvertibleError", "Prepared",
    "convert_file", "convert_source", "device_file", "device_mac", "explain_syntax_error", "install_download_guard",
    "install_import_guards", "open_device_file", "prepare_lambda", "python2_reason",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
