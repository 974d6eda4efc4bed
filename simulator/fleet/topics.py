"""The topics a classroom adds to a device's own (``simulator.ipc.topics``)."""

from __future__ import annotations

INFER_FILTER = "$aws/things/+/infer"
STATUS_FILTER = "deeplens/+/status"
THUMBNAIL_FILTER = "deeplens/+/thumbnail"
INFO_FILTER = "deeplens/+/info"
ALERTS_FILTER = "deeplens/+/alerts"  # what rules and cloud Lambdas raise about a thing (e.g. the people counter's)


def thumbnail_topic(thing: str) -> str:
    """A small live JPEG of the device (published about once a second)."""
    return f"deeplens/{thing}/thumbnail"


def info_topic(thing: str) -> str:
    """Retained JSON: where the device's viewer is, its profile and project, its rates (``DeviceInfo``)."""
    return f"deeplens/{thing}/info"


def thing_of(topic: str) -> str | None:
    """The thing of ``$aws/things/<thing>/...`` or ``deeplens/<thing>/...`` (None for any other topic)."""
    for prefix in ("$aws/things/", "deeplens/"):
        if topic.startswith(prefix):
            thing, sep, _ = topic[len(prefix):].partition("/")
            return thing if sep and thing else None
    return None
