"""Open Model Zoo: download a model that OMZ publishes as OpenVINO IR into the artifacts folder.

OMZ's storage layout is ``{base}/{name}/{precision}/{name}.xml`` (and ``.bin``), with ``base`` by default the last
OMZ release (``DEFAULT_BASE_URL``); ``DEEPLENS_SIM_OMZ_URL`` overrides it with another URL or a local folder of the
same layout (for machines that are never online). The files land as ``<artifacts>/<name>.xml`` + ``.bin``, so a
Lambda loads them as ``awscam.Model('/opt/awscam/artifacts/<name>.xml', {'GPU': 1})``.

OMZ lists its checksums only in the model.yml files of its source tree, not beside the files, so a download is
checked for what can be checked: every byte the server announced arrived, the ``.xml`` is an IR, the ``.bin`` holds
every weight the ``.xml`` points at, and OpenVINO reads the pair. ``<name>.omz.json`` then records the URL, the
precision and the size and sha256 of both files: a second fetch finds them intact and downloads nothing, a changed or
truncated file is downloaded again.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import ModelNotFoundError, SimulatorError
from . import devices
from .download import DownloadError, fetch_to, local_folder, sha256_of

DEFAULT_BASE_URL = "https://storage.openvinotoolkit.org/repositories/open_model_zoo/2023.0/models_bin/1"
ENV_URL = "DEEPLENS_SIM_OMZ_URL"
PRECISIONS = ("FP32", "FP16", "FP16-INT8", "FP32-INT8", "FP32-INT1", "FP16-INT1")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def base_url() -> str:
    return os.environ.get(ENV_URL, "").strip() or DEFAULT_BASE_URL


def file_url(name: str, precision: str, suffix: str, base: str | None = None) -> str:
    """Where OMZ keeps ``<name>.<suffix>`` at ``precision``."""
    return f"{(base or base_url()).rstrip('/')}/{name}/{precision}/{name}{suffix}"


def manifest_path(dest: Path, name: str) -> Path:
    return dest / f"{name}.omz.json"


def fetch(name: str, dest: Path, precision: str = "FP16", progress: bool = True) -> Path:
    """Download ``name`` at ``precision`` into the folder ``dest`` (unless it is already there, intact).

    Returns the path of ``<dest>/<name>.xml``. Raises ModelNotFoundError (offline, unknown name or precision)
    or SimulatorError (a download that fails its checks), each with a hint.
    """
    name, precision = _check_args(name, precision)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    xml, bin_ = dest / f"{name}.xml", dest / f"{name}.bin"
    base = base_url()
    if _cached(dest, name, precision, base):
        return xml
    parts = [dest / f".{name}{s}.{os.getpid()}.part" for s in (".xml", ".bin")]
    try:
        sizes = [_download(file_url(name, precision, s, base), p, name, precision, dest, progress)
                 for s, p in zip((".xml", ".bin"), parts, strict=True)]
        _check_ir(parts[0], parts[1], name)
        sums = [sha256_of(p) for p in parts]
        os.replace(parts[1], bin_)
        os.replace(parts[0], xml)
    finally:
        for p in parts:
            p.unlink(missing_ok=True)
    record = {"name": name, "precision": precision, "base_url": base, "url": file_url(name, precision, ".xml", base),
              "xml": {"size": sizes[0], "sha256": sums[0]}, "bin": {"size": sizes[1], "sha256": sums[1]}}
    manifest_path(dest, name).write_text(json.dumps(record, indent=1) + "\n")
    return xml


def _check_args(name: str, precision: str) -> tuple[str, str]:
    name = str(name).strip()
    if not _NAME.match(name):
        raise ModelNotFoundError(f"{name!r} is not an Open Model Zoo model name",
                                 hint="names look like person-detection-retail-0013 or mobilenet-v2-pytorch")
    precision = str(precision).strip().upper()
    if precision not in PRECISIONS:
        raise ModelNotFoundError(f"unknown precision {precision!r} for an Open Model Zoo model",
                                 hint="use one of " + ", ".join(PRECISIONS))
    return name, precision


def _cached(dest: Path, name: str, precision: str, base: str) -> bool:
    """True when the manifest matches the request and both files still have the recorded size and sha256."""
    try:
        record = json.loads(manifest_path(dest, name).read_text())
        if record["precision"] != precision or record["base_url"] != base:
            return False
        for suffix in ("xml", "bin"):
            path, want = dest / f"{name}.{suffix}", record[suffix]
            if path.stat().st_size != want["size"] or sha256_of(path) != want["sha256"]:
                return False
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _download(url: str, part: Path, name: str, precision: str, dest: Path, progress: bool) -> int:
    """Fetch ``url`` into ``part``; returns its size. Checks that every announced byte arrived."""
    try:
        return fetch_to(url, part, desc=url.rsplit("/", 1)[-1], progress=progress)
    except DownloadError as exc:
        if exc.status == 404:
            raise ModelNotFoundError(
                f"the Open Model Zoo has no {name} at precision {precision} ({url} answered 404)",
                hint="check the name in the Open Model Zoo model list (models published as IR) and the "
                     "precision (" + ", ".join(PRECISIONS) + ")") from None
        if local_folder(url) is not None:
            raise ModelNotFoundError(f"no Open Model Zoo file {local_folder(url)} ({ENV_URL} names a local folder)",
                                     hint=f"the folder must hold {name}/{precision}/{name}.xml and .bin") from None
        if "cut short" in str(exc):
            raise SimulatorError(str(exc), hint="run the command again") from None
        raise ModelNotFoundError(
            f"cannot download the Open Model Zoo model {name} ({precision}): {exc}",
            hint=f"connect to the network and run the command again, or copy {name}.xml and {name}.bin "
                 f"into {dest} yourself; {ENV_URL} can point at a mirror or a local folder") from None


def _check_ir(xml: Path, bin_: Path, name: str) -> None:
    """The pair is an IR whose weights all lie inside the .bin, and OpenVINO reads it."""
    bad = f"the downloaded {name}.xml / {name}.bin is not a usable OpenVINO IR"
    hint = "run the command again; if it persists the server (or DEEPLENS_SIM_OMZ_URL) serves something else"
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError as exc:
        raise SimulatorError(f"{bad}: the .xml does not parse ({exc})", hint=hint) from exc
    if root.tag != "net" or root.find("layers") is None:
        raise SimulatorError(f"{bad}: the .xml has no <net> with <layers>", hint=hint)
    needed = max((int(d.get("offset", 0)) + int(d.get("size", 0)) for d in root.iter("data")
                  if d.get("offset") is not None and d.get("size") is not None), default=0)
    if bin_.stat().st_size < needed:
        raise SimulatorError(f"{bad}: the .bin has {bin_.stat().st_size} bytes, the .xml needs {needed}", hint=hint)
    try:
        devices.core().read_model(str(xml), str(bin_))
    except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError and its own types
        raise SimulatorError(f"{bad}: OpenVINO cannot read it ({str(exc).splitlines()[0]})", hint=hint) from exc
