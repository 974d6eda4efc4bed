"""MXNet's file formats read without MXNet: ``.params`` (every array header version, dtypes, sparse storage),
``-symbol.json`` (current and pre-0.9 layouts), checkpoint lookup, and one clear error for each kind of bad file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulator.errors import ConfigError, ModelNotFoundError
from simulator.inference.mxnet import ModelFormatError, find_mxnet_pair, read_params, read_symbol
from tests.support.mxnet_files import SymbolBuilder, params_bytes, write_params, write_symbol

RNG = np.random.default_rng(7)
ARRAYS = {
    "conv0_weight": RNG.normal(size=(4, 3, 3, 3)).astype(np.float32),
    "fc_bias": RNG.normal(size=(5,)).astype(np.float32),
    "bn_moving_var": RNG.uniform(0.5, 2, size=(4,)).astype(np.float32),
}


@pytest.mark.parametrize("version", ["v1", "v2", "v3", "legacy"])
def test_every_array_header_version_reads_back(tmp_path, version):
    path = write_params(tmp_path / "m-0000.params", ARRAYS, aux={"bn_moving_var"}, version=version)
    got = read_params(path)
    assert list(got) == list(ARRAYS)  # arg:/aux: prefixes removed, order kept
    for name, value in ARRAYS.items():
        assert got[name].dtype == value.dtype and np.array_equal(got[name], value)


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.uint8, np.int32, np.int8, np.int64])
def test_dtype_flags(tmp_path, dtype):
    value = (RNG.normal(size=(2, 3)) * 50).astype(dtype)
    got = read_params(write_params(tmp_path / "d.params", {"w": value}))["w"]
    assert got.dtype == np.dtype(dtype) and np.array_equal(got, value)


@pytest.mark.parametrize("storage", ["row_sparse", "csr"])
def test_sparse_arrays_come_back_dense(tmp_path, storage):
    dense = np.zeros((6, 4), np.float32)
    dense[1, 2], dense[4, 0], dense[4, 3] = 1.5, -2.0, 3.25
    got = read_params(write_params(tmp_path / "s.params", {"emb": dense, "b": ARRAYS["fc_bias"]},
                                   sparse={"emb": storage}))
    assert np.array_equal(got["emb"], dense) and np.array_equal(got["b"], ARRAYS["fc_bias"])


def test_unnamed_list_and_scalar_v3(tmp_path):
    path = tmp_path / "u.params"
    path.write_bytes(params_bytes({"x": np.float32(3.5) * np.ones((), np.float32)}, version="v3", names=False))
    got = read_params(path)
    assert list(got) == ["array0"] and got["array0"].shape == () and float(got["array0"]) == 3.5


def test_truncated_file_names_the_byte_offset(tmp_path):
    data = params_bytes(ARRAYS)
    for cut in (10, 30, 60, len(data) - 3):
        path = tmp_path / f"cut{cut}.params"
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFormatError) as err:
            read_params(path)
        assert str(path) in str(err.value) and "truncated at byte" in str(err.value)
        assert isinstance(err.value, ConfigError)


def test_not_a_params_file_and_missing_file(tmp_path):
    bogus = tmp_path / "x.params"
    bogus.write_bytes(b"PK\x03\x04" + bytes(60))
    with pytest.raises(ModelFormatError, match=r"not an MXNet \.params file \(header 0x4034B50 at byte 0"):
        read_params(bogus)
    with pytest.raises(ModelNotFoundError, match="parameters file not found"):
        read_params(tmp_path / "absent.params")


def test_unknown_array_magic_is_reported_with_its_offset(tmp_path):
    data = bytearray(params_bytes({"w": ARRAYS["fc_bias"]}))
    data[24:28] = (0xDEADBEEF).to_bytes(4, "little")
    path = tmp_path / "m.params"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match=r"byte 24: array #0: unknown array magic 0xDEADBEEF"):
        read_params(path)


def _tiny_symbol() -> SymbolBuilder:
    s = SymbolBuilder()
    x = s.var("data")
    conv = s.op("Convolution", "conv0", [x, s.var("conv0_weight")], kernel=(3, 3), num_filter=4, no_bias=True)
    s.op("Activation", "relu0", [conv], act_type="relu")
    return s


def test_symbol_current_and_legacy_layouts(tmp_path):
    s = _tiny_symbol()
    for legacy in (False, True):
        path = write_symbol(tmp_path / f"l{legacy}-symbol.json", s.json([(2, 0)], legacy=legacy))
        graph = read_symbol(path)
        assert [n.op for n in graph.nodes] == ["null", "null", "Convolution", "Activation"]
        conv = graph.nodes[2]
        assert conv.inputs == ((0, 0), (1, 0)) and graph.heads == ((2, 0),)
        assert conv.attrs.ints("kernel") == (3, 3) and conv.attrs.flag("no_bias") is True
        assert conv.line is not None and '"conv0"' in path.read_text().splitlines()[conv.line - 1]


def test_symbol_errors_name_file_line_and_field(tmp_path):
    broken = tmp_path / "b-symbol.json"
    broken.write_text('{\n  "nodes": [\n    {"op": "null", "name": "data", "inputs": []},\n  ]\n}')
    with pytest.raises(ModelFormatError, match=r"b-symbol\.json:4: not valid JSON"):
        read_symbol(broken)
    doc = _tiny_symbol().json([(2, 0)])
    doc["nodes"][2]["colour"] = "red"
    with pytest.raises(ModelFormatError, match=r"field 'nodes\.2\.colour': unknown field"):
        read_symbol(write_symbol(tmp_path / "c-symbol.json", doc))
    doc = _tiny_symbol().json([(2, 0)])
    doc["nodes"][2]["inputs"][1] = [3, 0, 0]
    with pytest.raises(ModelFormatError, match=r"node 'conv0' \(Convolution\): input \[3, 0, 0\] does not name"):
        read_symbol(write_symbol(tmp_path / "d-symbol.json", doc))
    doc["heads"] = []
    doc["nodes"][2]["inputs"][1] = [1, 0, 0]
    with pytest.raises(ModelFormatError, match="'heads' is empty"):
        read_symbol(write_symbol(tmp_path / "e-symbol.json", doc))


def test_bad_attribute_value_names_node_and_attribute(tmp_path):
    from simulator.inference.mxnet import read_mxnet

    doc = _tiny_symbol().json([(3, 0)])
    doc["nodes"][2]["attrs"]["kernel"] = "(3, x)"
    symbol = write_symbol(tmp_path / "a-symbol.json", doc)
    params = write_params(tmp_path / "a-0000.params", {"conv0_weight": np.zeros((4, 3, 3, 3), np.float32)})
    with pytest.raises(ModelFormatError, match=r"a-symbol\.json:\d+: node 'conv0' \(Convolution\): attribute "
                                               r"'kernel' = '\(3, x\)' is not a tuple of ints"):
        read_mxnet(symbol, params, (1, 3, 8, 8))


def test_find_mxnet_pair_picks_epochs(tmp_path):
    write_symbol(tmp_path / "net-symbol.json", json.loads('{"nodes": [], "heads": []}'))
    for epoch in (0, 3, 12):
        write_params(tmp_path / f"net-{epoch:04d}.params", {"w": ARRAYS["fc_bias"]})
    write_params(tmp_path / "other-0099.params", {"w": ARRAYS["fc_bias"]})
    assert find_mxnet_pair(tmp_path, "net", None) == (tmp_path / "net-symbol.json", tmp_path / "net-0012.params")
    assert find_mxnet_pair(tmp_path, "net", 3)[1].name == "net-0003.params"
    with pytest.raises(ModelNotFoundError, match=r"net-0007\.params is not \(epochs present: 0, 3, 12\)"):
        find_mxnet_pair(tmp_path, "net", 7)
    assert find_mxnet_pair(tmp_path, "absent", None) is None
    write_symbol(tmp_path / "lonely-symbol.json", {"nodes": [], "heads": []})
    with pytest.raises(ModelNotFoundError, match="epochs present: none"):
        find_mxnet_pair(tmp_path, "lonely", None)
