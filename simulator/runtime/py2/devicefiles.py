"""Files of the DeepLens device that Lambdas read, answered for the simulated device.

- ``/sys/class/net/mlan0/address``: the Wi-Fi MAC (``mlan0`` was the DeepLens Wi-Fi interface), which Lambdas
  use as a device id. The simulator answers a stable, locally administered unicast MAC derived from the thing
  name, so two simulated devices differ and one keeps its id across runs.
- ``/etc/hostname``: ``AWSDeepLens``, the device's host name.

``device_file(path, thing_name)`` gives a file's bytes (None for any other path); the process's ``open()`` and
``os.path.exists/isfile`` consult it for reads.
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import IO

MAC_PATH = "/sys/class/net/mlan0/address"
HOSTNAME_PATH = "/etc/hostname"
DEVICE_HOSTNAME = "AWSDeepLens"


def device_mac(thing_name: str) -> str:
    """``aa:bb:cc:dd:ee:ff``: derived from the thing name, locally administered (bit 1 of the first octet set)
    and unicast (bit 0 clear), so it can never be a real vendor's address."""
    octets = bytearray(hashlib.sha256(thing_name.encode("utf-8")).digest()[:6])
    octets[0] = (octets[0] & 0xFC) | 0x02
    return ":".join(f"{b:02x}" for b in octets)


def device_file(path: str, thing_name: str) -> bytes | None:
    """The content of a device file the simulator answers, or None when ``path`` is not one of them."""
    try:
        normal = os.path.normpath(os.fspath(path))
    except TypeError:
        return None
    if normal == MAC_PATH:
        return (device_mac(thing_name) + "\n").encode("ascii")
    if normal == HOSTNAME_PATH:
        return (DEVICE_HOSTNAME + "\n").encode("ascii")
    return None


def open_device_file(data: bytes, mode: str = "r", buffering: int = -1, encoding: str | None = None,
                     errors: str | None = None, newline: str | None = None, *_args, **_kwargs) -> IO:
    """A read-only file object over a device file's bytes, text or binary as ``mode`` asks (``open``'s
    arguments, so a patched ``open`` can pass its own through)."""
    if "b" in mode:
        return io.BytesIO(data)
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding or "utf-8", errors=errors, newline=newline)
