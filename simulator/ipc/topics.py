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


def is_report(thing: str, topic: str) -> bool:
    """Is ``topic`` one of the simulator's own reports on the device, each shown in a panel of its own rather than
    among the device's messages? The fleet's thumbnail (a JPEG a second) and info (retained JSON), the rules' status
    list (every two seconds while messages flow) and the rules engine's subscription probes."""
    prefix = f"deeplens/{thing}/"
    if not topic.startswith(prefix):
        return False
    rest = topic[len(prefix):]
    return rest in ("thumbnail", "info", "rules") or rest.startswith("rules/subscribed/")
