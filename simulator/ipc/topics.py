"""The topics a simulated device uses."""

from __future__ import annotations


def infer_topic(thing: str) -> str:
    return f"$aws/things/{thing}/infer"


def status_topic(thing: str) -> str:
    """Where the simulator reports on the device: Lambda starts, crashes and restarts (JSON)."""
    return f"deeplens/{thing}/status"


def shadow_topic(thing: str, suffix: str) -> str:
    return f"$aws/things/{thing}/shadow/{suffix}"


def device_filters(thing: str) -> list[str]:
    """Filters that together see every message of the device ($ topics are not matched by '#')."""
    return [f"$aws/things/{thing}/#", f"deeplens/{thing}/#"]
