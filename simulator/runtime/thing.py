"""The thing name a simulated device uses (``AWS_IOT_THING_NAME``): ``deeplens_<uuid>``, stable per user."""

from __future__ import annotations

import uuid

from simulator.config import THING_NAME
from simulator.paths import data_dir


def default_thing_name() -> str:
    path = data_dir() / "thing_name"
    try:
        name = path.read_text(encoding="utf-8").strip()
        if THING_NAME.match(name):
            return name
    except FileNotFoundError:
        pass
    name = f"deeplens_{uuid.uuid4()}"
    path.write_text(name + "\n", encoding="utf-8")
    return name

