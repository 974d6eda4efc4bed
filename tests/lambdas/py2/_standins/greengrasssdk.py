"""A stand-in for greengrasssdk in the Python 2 Lambda tests: each publish is one ``PUBLISH`` line on stdout."""

from __future__ import annotations

import json
import sys


class _IotData:
    def publish(self, *, topic: str, payload=b"") -> None:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else str(payload)
        sys.stdout.write("PUBLISH " + json.dumps({"topic": topic, "payload": text}) + "\n")
        sys.stdout.flush()


def client(name: str):
    if name != "iot-data":
        raise ValueError(f"stand-in greengrasssdk has no {name!r} client")
    return _IotData()
