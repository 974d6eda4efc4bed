"""One local cloud per process, shared by every simulated device in it (moto keeps one state per process).

``acquire(state_dir, port)`` starts it lazily (the port answers at once; moto loads at the first AWS call) or
returns the running one; ``release()`` stops it with the last user, after saving what it holds. Publishes a
Lambda makes through boto3's ``iot-data`` client go to the broker of the device whose thing the topic names.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path

from simulator.cloud.local import LocalCloud
from simulator.errors import PortInUseError

log = logging.getLogger(__name__)

DEFAULT_PORT = 4566  # LocalStack's: boto3 users know it
_THING = re.compile(r"^\$aws/things/([^/]+)/")

_lock = threading.Lock()
_cloud: LocalCloud | None = None
_users = 0
_publishers: dict[str, Callable[[str, bytes], None]] = {}  # thing name -> publish on its broker


def _route(topic: str, payload: bytes, _qos: int) -> None:
    match = _THING.match(topic)
    with _lock:
        publish = _publishers.get(match.group(1)) if match else None
        if publish is None and _publishers:
            publish = next(iter(_publishers.values()))
    if publish is not None:
        publish(topic, payload)
    else:
        log.warning("iot-data publish to %s through the local cloud: no device to deliver it", topic)


def acquire(state_dir: Path, port: int | None, thing: str, publish: Callable[[str, bytes], None],
            region: str = "us-east-1") -> LocalCloud:
    """The process's local cloud (started if needed). ``port`` None: 4566 if free, else any free port."""
    global _cloud, _users
    with _lock:
        if _cloud is None:
            cloud = LocalCloud(state_dir, port=DEFAULT_PORT if port is None else port, region=region)
            try:
                cloud.start(lazy=True)
            except PortInUseError:
                if port is not None:
                    raise
                log.info("port %d is taken: the local cloud takes a free port", DEFAULT_PORT)
                cloud = LocalCloud(state_dir, port=0, region=region).start(lazy=True)
            cloud.on_iot_publish(_route)
            _cloud = cloud
        elif Path(state_dir) != _cloud.state_dir:
            log.info("the local cloud of this process keeps its state in %s (not %s)", _cloud.state_dir, state_dir)
        _users += 1
        _publishers[thing] = publish
        return _cloud


def release(thing: str) -> None:
    global _cloud, _users
    with _lock:
        _publishers.pop(thing, None)
        _users = max(0, _users - 1)
        cloud = _cloud if _users == 0 else None
        if cloud is not None:
            _cloud = None
    if cloud is not None:
        cloud.stop()


__all__ = ["DEFAULT_PORT", "acquire", "release"]
