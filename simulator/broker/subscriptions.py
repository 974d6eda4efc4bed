"""Topic names, topic filters and the subscription index (which sessions a topic reaches, at which QoS)."""

from __future__ import annotations

from collections.abc import Hashable

MAX_CACHED_TOPICS = 10000


def valid_topic_name(topic: str) -> bool:
    """A PUBLISH topic: not empty, no wildcards (MQTT 3.1.1 §4.7.3, §3.3.2.1)."""
    return bool(topic) and "+" not in topic and "#" not in topic


def valid_filter(topic_filter: str) -> bool:
    """A SUBSCRIBE filter: ``#`` only alone as the last level, ``+`` only alone as a level (§4.7.1)."""
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def matches(topic_filter: str, topic: str) -> bool:
    """True if ``topic`` matches ``topic_filter``; a filter starting with a wildcard does not match a ``$``
    topic (§4.7.2)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    if "+" not in topic_filter and "#" not in topic_filter:
        return topic_filter == topic
    flt, top = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(flt):
        if level == "#":
            return True
        if i >= len(top) or (level != "+" and level != top[i]):
            return False
    return len(flt) == len(top)


class SubscriptionIndex:
    """filter -> {subscriber: granted QoS}; ``match(topic)`` lists each subscriber once at its highest QoS.

    Subscribers are any hashable (the broker's sessions). Matches are cached per topic until the next change."""

    def __init__(self) -> None:
        self._filters: dict[str, dict[Hashable, int]] = {}
        self._cache: dict[str, list[tuple[Hashable, int]]] = {}

    def add(self, topic_filter: str, subscriber: Hashable, qos: int) -> None:
        self._filters.setdefault(topic_filter, {})[subscriber] = qos
        self._cache.clear()

    def remove(self, topic_filter: str, subscriber: Hashable) -> None:
        subs = self._filters.get(topic_filter)
        if subs is not None and subs.pop(subscriber, None) is not None:
            if not subs:
                del self._filters[topic_filter]
            self._cache.clear()

    def remove_all(self, subscriber: Hashable, filters: list[str]) -> None:
        for f in filters:
            self.remove(f, subscriber)

    def match(self, topic: str) -> list[tuple[Hashable, int]]:
        found = self._cache.get(topic)
        if found is not None:
            return found
        best: dict[Hashable, int] = {}
        for topic_filter, subs in self._filters.items():
            if matches(topic_filter, topic):
                for sub, qos in subs.items():
                    if best.get(sub, -1) < qos:
                        best[sub] = qos
        found = list(best.items())
        if len(self._cache) >= MAX_CACHED_TOPICS:
            self._cache.clear()
        self._cache[topic] = found
        return found

    def __len__(self) -> int:
        return sum(len(s) for s in self._filters.values())
