"""The thing name a simulated device uses (``AWS_IOT_THING_NAME``): ``deeplens_<uuid>``, stable per user."""

from __future__ import annotations

import re
import uuid

from simulator.errors import ConfigError
from simulator.paths import data_dir

_VALID = re.compile(r"^[A-Za-z0-9:_-]{1,128}$")


def default_thing_name() -> str:
    path = data_dir() / "thing_name"
    try:
        name = path.read_text(encoding="utf-8").strip()
        if _VALID.match(name):
            return name
    except FileNotFoundError:
        pass
    name = f"deeplens_{uuid.uuid4()}"
    path.write_text(name + "\n", encoding="utf-8")
    return name


def check_thing_name(name: str) -> str:
    if not _VALID.match(name):
        raise ConfigError(f"invalid thing name {name!r}: use 1-128 letters, digits, ':', '_' or '-' "
                          "(AWS IoT thing-name rules; MQTT wildcards are not allowed)")
    return name
