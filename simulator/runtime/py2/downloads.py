"""Downloads a Lambda makes (often at import), answered locally when they can be.

Workshop Lambdas fetch files when they start: a zip of boto3 from S3 to put a newer SDK on the device, label
files, models. In the simulator, for every URL fetched with ``urllib.request.urlopen``/``urlretrieve`` (what
``urllib2``/``urllib`` became), ``requests`` or boto3's ``download_file``:

1. an archive whose only purpose is to provide a module the simulator already provides (``boto3*.zip``,
   ``botocore-*.tar.gz``, ``greengrasssdk*.zip``, ... by the URL's file name) is answered with an *empty*
   archive of the same kind — unpacking it adds nothing and the host's module is imported — and logged;
2. a copy at ``<artifacts>/downloads/<file name>`` is served instead of the network, and logged;
3. otherwise the real download runs; when it fails, the error names the URL and where a local copy would be
   served from.
"""

from __future__ import annotations

import email.message
import gzip
import importlib.abc
import io
import logging
import re
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from types import ModuleType
from urllib.parse import unquote, urlparse

log = logging.getLogger("lambda.downloads")

PROVIDED = re.compile(r"(boto3|botocore|boto|s3transfer|awscli|greengrasssdk|greengrass_sdk|awscam)"
                      r"([-_.][\w.+-]*)?\.(zip|whl|egg|tar\.gz|tgz|tar)", re.IGNORECASE)


def basename(url: str) -> str:
    """The file name a URL (``http(s)://``, ``ftp://``, ``s3://bucket/key``) downloads."""
    return PurePosixPath(unquote(urlparse(url).path)).name


def empty_archive(name: str) -> bytes:
    """An archive with no members, of the kind the file name says."""
    buffer = io.BytesIO()
    lowered = name.lower()
    if lowered.endswith((".zip", ".whl", ".egg")):
        zipfile.ZipFile(buffer, "w").close()
    elif lowered.endswith((".tar.gz", ".tgz")):
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w"):
            pass
    else:
        tarfile.open(fileobj=buffer, mode="w").close()
    return buffer.getvalue()


class DownloadGuard:
    """Decides how each download is answered; ``install()`` patches the download functions of this process."""

    def __init__(self, artifacts: Path, logger: logging.Logger | None = None) -> None:
        self.folder = Path(artifacts) / "downloads"
        self.log = logger or log

    def local_answer(self, url: str) -> bytes | None:
        """The bytes to answer ``url`` with without the network, or None to download it for real."""
        name = basename(url)
        match = PROVIDED.fullmatch(name) if name else None
        if match:
            self.log.info("download of %s answered with an empty archive: the simulator already provides %s",
                          url, match.group(1).lower())
            return empty_archive(name)
        copy = self.folder / name if name else None
        if copy is not None and copy.is_file():
            self.log.info("download of %s served from the local copy %s", url, copy)
            return copy.read_bytes()
        return None

    def failure(self, url: str, exc: BaseException) -> str:
        name = basename(url) or "<file name>"
        text = f"cannot download {url} ({exc}): put a copy at {self.folder / name} and the simulator serves it"
        self.log.error("%s", text)
        return text

    def install(self) -> DownloadGuard:
        _patch_urllib(self)
        PatchOnImport.add("requests.adapters", lambda module: _patch_requests(self, module))
        PatchOnImport.add("boto3.s3.transfer", lambda module: _patch_boto3(self, module))
        return self


def _patch_urllib(guard: DownloadGuard) -> None:
    import urllib.request
    from urllib.error import HTTPError, URLError
    from urllib.response import addinfourl

    real = urllib.request.urlopen

    def urlopen(url, data=None, *args, **kwargs):
        target = url.full_url if isinstance(url, urllib.request.Request) else str(url)
        if urlparse(target).scheme not in ("http", "https", "ftp"):
            return real(url, data, *args, **kwargs)
        answer = guard.local_answer(target)
        if answer is not None:
            headers = email.message.Message()
            headers["Content-Length"] = str(len(answer))
            return addinfourl(io.BytesIO(answer), headers, target, 200)
        if isinstance(data, str):  # Python 2 posted str; Python 3 wants bytes
            data = data.encode("utf-8")
        if isinstance(url, urllib.request.Request) and isinstance(url.data, str):
            url.data = url.data.encode("utf-8")
        try:
            return real(url, data, *args, **kwargs)
        except HTTPError:
            raise
        except (URLError, OSError) as exc:
            raise URLError(guard.failure(target, getattr(exc, "reason", exc))) from exc

    urllib.request.urlopen = urlopen


def _patch_requests(guard: DownloadGuard, adapters: ModuleType) -> None:
    from requests import exceptions
    from requests.models import Response
    from requests.structures import CaseInsensitiveDict

    real = adapters.HTTPAdapter.send

    def send(adapter, request, **kwargs):
        answer = guard.local_answer(request.url)
        if answer is not None:
            response = Response()
            response.status_code, response.reason, response.url = 200, "OK", request.url
            response.request, response.raw = request, io.BytesIO(answer)
            response.headers = CaseInsensitiveDict({"Content-Length": str(len(answer))})
            return response
        try:
            return real(adapter, request, **kwargs)
        except (exceptions.ConnectionError, exceptions.Timeout) as exc:
            raise type(exc)(guard.failure(request.url, exc), request=request) from exc

    adapters.HTTPAdapter.send = send


def _patch_boto3(guard: DownloadGuard, transfer: ModuleType) -> None:
    real = transfer.S3Transfer.download_file

    def download_file(self, bucket, key, filename, *args, **kwargs):
        url = f"s3://{bucket}/{key}"
        answer = guard.local_answer(url)
        if answer is not None:
            Path(filename).write_bytes(answer)
            return None
        try:
            return real(self, bucket, key, filename, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - logged with the local-copy hint, then re-raised as boto3 raised it
            guard.failure(url, exc)
            raise

    transfer.S3Transfer.download_file = download_file


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader, patch: Callable[[ModuleType], None]) -> None:
        self._loader, self._patch = loader, patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class PatchOnImport(importlib.abc.MetaPathFinder):
    """Applies a patch to a module right after it is first imported (at once if it already is)."""

    _patches: dict[str, Callable[[ModuleType], None]] = {}

    @classmethod
    def add(cls, name: str, patch: Callable[[ModuleType], None]) -> None:
        if name in sys.modules:
            patch(sys.modules[name])
            return
        cls._patches[name] = patch
        if not any(isinstance(f, cls) for f in sys.meta_path):
            sys.meta_path.insert(0, cls())

    def find_spec(self, fullname, path=None, target=None):
        patch = self._patches.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            del self._patches[fullname]
            spec.loader = _PatchingLoader(spec.loader, patch)
        return spec


_installed: list[DownloadGuard] = []


def install_download_guard(artifacts: Path, logger: logging.Logger | None = None) -> DownloadGuard:
    """Answer this process's downloads as described above (once per process); local copies are served from
    ``<artifacts>/downloads/<file name>``."""
    if not _installed:
        _installed.append(DownloadGuard(artifacts, logger).install())
    return _installed[0]
