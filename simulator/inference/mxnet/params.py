"""MXNet's ``.params`` file (an NDArray list, as ``mx.nd.save`` and ``Module.save_checkpoint`` write it), read
without MXNet.

Layout (little-endian): u64 0x112, u64 reserved, u64 array count, the arrays, u64 name count, then per name a
u64 length and the UTF-8 bytes (``arg:NAME`` / ``aux:NAME``). Each array starts with a u32 magic:

- ``0xF993FAC9`` (v2) or ``0xF993FACA`` (v3, NumPy shape semantics): i32 storage type (0 dense, 1 row_sparse,
  2 csr), the storage shape if sparse, the shape (i32 ndim + i64 dims), i32 device type, i32 device id, i32 dtype
  flag, per auxiliary array (sparse only) an i32 dtype and its shape, the data, then the auxiliary data;
- ``0xF993FAC8`` (v1): the shape (u32 ndim + i64 dims), device, dtype flag, data;
- anything else (legacy): the magic is ndim, followed by u32 dims, device, dtype flag, data.

An array with no shape (ndim 0; -1 in v3) is an empty placeholder. Sparse arrays are returned dense.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from simulator.errors import ModelNotFoundError
from simulator.inference.mxnet.errors import ModelFormatError

LIST_MAGIC = 0x112
V1_MAGIC, V2_MAGIC, V3_MAGIC = 0xF993FAC8, 0xF993FAC9, 0xF993FACA
_MAX_LEGACY_NDIM = 32

# mshadow's type flags
DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"), 1: np.dtype("<f8"), 2: np.dtype("<f2"), 3: np.dtype("u1"), 4: np.dtype("<i4"),
    5: np.dtype("i1"), 6: np.dtype("<i8"), 7: np.dtype("?"), 8: np.dtype("<i2"), 9: np.dtype("<u2"),
    10: np.dtype("<u4"), 11: np.dtype("<u8"), 12: np.dtype("<u2"),  # 12 = bfloat16, widened below
}
_BFLOAT16 = 12
# storage type -> number of auxiliary arrays (row_sparse: row indices; csr: indptr, column indices)
_AUX_COUNT = {0: 0, 1: 1, 2: 2}


class _Reader:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            left = len(self.data) - self.pos
            raise ModelFormatError(f"{self.path}: truncated at byte {self.pos}: {what} needs {n} bytes, "
                                   f"{left} left (file size {len(self.data)})",
                                   hint="the file was cut short (interrupted copy or download?); copy it again")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def fail(self, at: int, message: str) -> ModelFormatError:
        return ModelFormatError(f"{self.path}: byte {at}: {message}")


def _shape_i64(r: _Reader, what: str, signed: bool) -> tuple[int, ...] | None:
    at = r.pos
    (ndim,) = r.unpack("i" if signed else "I", f"{what} ndim")
    if ndim < 0:
        return None  # unknown shape (v3)
    if ndim > _MAX_LEGACY_NDIM:
        raise r.fail(at, f"{what} has {ndim} dimensions; not an MXNet NDArray")
    dims = r.unpack(f"{ndim}q", f"{what} dims")
    if any(d < 0 for d in dims):
        raise r.fail(at, f"{what} {dims} has a negative dimension")
    return tuple(dims)


def _payload(r: _Reader, dtype_flag: int, shape: tuple[int, ...], what: str) -> np.ndarray:
    at = r.pos
    dtype = DTYPES.get(dtype_flag)
    if dtype is None:
        raise r.fail(at, f"{what}: unknown dtype flag {dtype_flag}")
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.frombuffer(r.take(count * dtype.itemsize, f"{what} data ({count} x {dtype.name})"), dtype=dtype)
    if dtype_flag == _BFLOAT16:
        raw = (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.reshape(shape).astype(raw.dtype.newbyteorder("="), copy=True)


def _densify(stype: int, shape: tuple[int, ...], values: np.ndarray, aux: list[np.ndarray]) -> np.ndarray:
    dense = np.zeros(shape, dtype=values.dtype)
    if stype == 1:  # row_sparse: aux[0] = row indices
        dense[aux[0].astype(np.int64)] = values
    else:  # csr: aux[0] = indptr, aux[1] = column indices
        indptr, cols = aux[0].astype(np.int64), aux[1].astype(np.int64)
        for row in range(shape[0]):
            dense[row, cols[indptr[row]:indptr[row + 1]]] = values[indptr[row]:indptr[row + 1]]
    return dense


def _array(r: _Reader, index: int) -> np.ndarray | None:
    what = f"array #{index}"
    at = r.pos
    (magic,) = r.unpack("I", f"{what} magic")
    stype, sshape = 0, None
    if magic in (V2_MAGIC, V3_MAGIC):
        (stype,) = r.unpack("i", f"{what} storage type")
        if stype not in _AUX_COUNT:
            raise r.fail(at, f"{what}: unknown storage type {stype}")
        if _AUX_COUNT[stype]:
            sshape = _shape_i64(r, f"{what} storage shape", signed=True)
        shape = _shape_i64(r, f"{what} shape", signed=True)
        if shape is None or (magic == V2_MAGIC and len(shape) == 0):
            return None
    elif magic == V1_MAGIC:
        shape = _shape_i64(r, f"{what} shape", signed=False)
        if not shape:
            return None
    else:
        if magic > _MAX_LEGACY_NDIM:
            raise r.fail(at, f"{what}: unknown array magic 0x{magic:08X}; not an MXNet NDArray")
        shape = r.unpack(f"{magic}I", f"{what} dims")
        if magic == 0:
            return None
    r.unpack("ii", f"{what} device")
    (dtype_flag,) = r.unpack("i", f"{what} dtype")
    if not _AUX_COUNT[stype]:
        return _payload(r, dtype_flag, tuple(shape), what)
    aux_meta = []
    for k in range(_AUX_COUNT[stype]):
        (aux_type,) = r.unpack("i", f"{what} aux #{k} dtype")
        aux_meta.append((aux_type, _shape_i64(r, f"{what} aux #{k} shape", signed=True) or ()))
    values = _payload(r, dtype_flag, tuple(sshape or ()), what)
    aux = [_payload(r, t, s, f"{what} aux #{k}") for k, (t, s) in enumerate(aux_meta)]
    return _densify(stype, tuple(shape), values, aux)


def _names(r: _Reader, expected: int) -> list[str]:
    at = r.pos
    (count,) = r.unpack("Q", "name count")
    if count and count != expected:
        raise r.fail(at, f"{count} names for {expected} arrays")
    names = []
    for i in range(count):
        (length,) = r.unpack("Q", f"name #{i} length")
        raw = r.take(length, f"name #{i}")
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise r.fail(r.pos - length, f"name #{i} is not UTF-8") from None
    return names


def read_params(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a ``.params`` file by name (``arg:``/``aux:`` prefixes removed)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelNotFoundError(f"MXNet parameters file not found: {path}") from None
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    r = _Reader(data, path)
    header, _reserved = r.unpack("QQ", "header")
    if header != LIST_MAGIC:
        raise ModelFormatError(f"{path}: not an MXNet .params file (header 0x{header:X} at byte 0, "
                               f"expected 0x{LIST_MAGIC:X})",
                               hint="give the NAME-NNNN.params file saved by MXNet (mx.nd.save / save_checkpoint)")
    at = r.pos
    (count,) = r.unpack("Q", "array count")
    if count > len(data):
        raise r.fail(at, f"array count {count} is larger than the file")
    arrays = [_array(r, i) for i in range(count)]
    names = _names(r, count) or [f"array{i}" for i in range(count)]
    out: dict[str, np.ndarray] = {}
    for name, array in zip(names, arrays, strict=True):
        key = name.split(":", 1)[1] if name.startswith(("arg:", "aux:")) else name
        if key in out:
            raise ModelFormatError(f"{path}: parameter '{key}' is stored twice")
        if array is not None:
            out[key] = array
    return out
