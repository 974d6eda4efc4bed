"""Copies of packages bundled beside a Lambda that must not shadow the host's own.

Device-era Lambda folders often carry their own ``greengrasssdk`` (which drops every publish outside
Greengrass), ``boto3``/``botocore`` of 2018 (``collections.Mapping``: they fail to import on Python ≥ 3.10),
a Python 2 ``PIL/`` with its ``_imaging.so``, stubs of ``awscam``/``mo``, or Python 2 backports of modules
Python 3 has built in. A ``sys.meta_path`` finder resolves these names from the host's own path (the
``sys.path`` the Lambda process had before the Lambda's folder was added, less that folder) whenever the copy
an ordinary import would take comes from the Lambda's folder, its modernised mirror, or a folder the Lambda
put on ``sys.path`` itself (an unpacked zip in /tmp); each bypassed copy is logged once. A name the host cannot
provide is left to the bundled copy.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

DEVICE = "the simulator's device module"
SDK_2018 = "an old AWS SDK copy (breaks on Python 3.10+)"
PY2_BUILD = "a Python 2 build"
BACKPORT = "a Python 2 backport of a standard module"
HOST_WINS: dict[str, str] = {
    "awscam": DEVICE, "mo": DEVICE, "greengrasssdk": DEVICE, "mxnet": DEVICE,
    "boto3": SDK_2018, "botocore": SDK_2018, "s3transfer": SDK_2018, "requests": SDK_2018, "urllib3": SDK_2018,
    "PIL": PY2_BUILD, "numpy": PY2_BUILD, "cv2": PY2_BUILD,
    "concurrent": BACKPORT, "enum": BACKPORT, "typing": BACKPORT, "ipaddress": BACKPORT, "configparser": BACKPORT,
}

log = logging.getLogger("lambda.py2")


def bundled_copy(folder: Path, name: str) -> Path | None:
    """The package or module ``name`` bundled in ``folder``, if there is one."""
    candidates = [folder / name, folder / f"{name}.py", *sorted(folder.glob(f"{name}.*.so")),
                  *sorted(folder.glob(f"{name}.so")), *sorted(folder.glob(f"{name}.pyd"))]
    return next((c for c in candidates if c.exists()), None)


def _outside(entry: str, excluded: list[Path]) -> bool:
    try:
        path = Path(entry or os.getcwd()).resolve()
    except OSError:
        return True
    return not any(path == e or e in path.parents for e in excluded)


class HostFirstFinder(MetaPathFinder):
    """Resolves the names of ``HOST_WINS`` from the host's path, never from the Lambda's folder."""

    def __init__(self, lambda_dir: Path, excluded: list[Path], logger: logging.Logger) -> None:
        self.lambda_dir, self.excluded = lambda_dir, excluded
        self.host_path = [e for e in sys.path if _outside(e, excluded)]
        self._host_resolved = [Path(e or os.getcwd()).resolve() for e in self.host_path]
        self.log = logger
        self.bypassed: dict[str, str] = {}  # name → where the shadowing copy was

    def _report(self, name: str, copy: str, used: str) -> None:
        if name not in self.bypassed:
            self.bypassed[name] = copy
            self.log.info("bundled %s (%s) at %s is bypassed: using %s", name, HOST_WINS[name], copy, used)

    def _foreign(self, entry: str) -> bool:
        """True for a ``sys.path`` entry that is the Lambda's (its folder, the modernised copies, or a folder it
        added itself, like an unpacked zip in /tmp); False for the host's entries and folders inside them."""
        try:
            path = Path(entry or os.getcwd()).resolve()
        except OSError:
            return False
        if not _outside(str(path), self.excluded):
            return True
        return not any(path == h or h in path.parents for h in self._host_resolved)

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        if "." in fullname or fullname not in HOST_WINS:
            return None
        for entry in list(sys.path):
            would_be = PathFinder.find_spec(fullname, [entry])
            if would_be is not None:
                break
        else:
            return None
        if not self._foreign(entry):
            return None
        spec = PathFinder.find_spec(fullname, self.host_path)
        if spec is None:
            return None
        self._report(fullname, str(would_be.origin or entry), f"the host's {fullname} ({spec.origin})")
        return spec

    def report_bundled(self) -> None:
        """Log the copies bundled in the Lambda's folder that will not be used (device modules included)."""
        for name in HOST_WINS:
            copy = bundled_copy(self.lambda_dir, name)
            if copy is None:
                continue
            if name in sys.modules:
                origin = getattr(sys.modules[name], "__file__", None)
                self._report(name, str(copy), f"the simulator's {name}" if HOST_WINS[name] == DEVICE
                             else f"the host's {name} ({origin})")
            else:
                spec = PathFinder.find_spec(name, self.host_path)
                if spec is not None:
                    self._report(name, str(copy), f"the host's {name} ({spec.origin})")
                else:
                    self.log.warning("bundled %s at %s is used: the host has no %s to replace it", name, copy, name)


def install_import_guards(lambda_dir: Path, extra_dirs: tuple[Path, ...] = (),
                          logger: logging.Logger | None = None) -> HostFirstFinder:
    """Put the host-first finder at the front of ``sys.meta_path`` (once per process) and log every bundled copy
    it will bypass. ``extra_dirs`` (e.g. the folder of modernised copies) are not the host's path either."""
    for finder in sys.meta_path:
        if isinstance(finder, HostFirstFinder):
            return finder
    lambda_dir = Path(lambda_dir).resolve()
    excluded = [lambda_dir, *(Path(d).resolve() for d in extra_dirs)]
    finder = HostFirstFinder(lambda_dir, excluded, logger or log)
    sys.meta_path.insert(0, finder)
    finder.report_bundled()
    return finder
