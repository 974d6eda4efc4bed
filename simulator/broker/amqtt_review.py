"""The amqtt code that hardened.py replaces or relies on, as reviewed: amqtt 0.12.1.

hardened.HardenedBroker overrides protected methods of ``amqtt.broker.Broker`` (its extension points have no public
form) and relies on the order in which ``_handle_client_session`` calls them. ``REVIEWED`` holds a digest of the
source of each of those methods as they were in the reviewed release; ``changes()`` lists the ones that differ in
the installed amqtt, so that an upgrade cannot change the broker's behaviour unnoticed (tests/test_broker_amqtt.py
fails; the broker logs a warning at start if the version differs). After reviewing an upgrade, update ``REVIEWED``
with ``digests()``.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect

REVIEWED_VERSION = "0.12.1"
REVIEWED = {
    "amqtt.broker.Broker._create_server_instance": "3925f48239680074",
    "amqtt.broker.Broker.stream_connected": "d1c68240cb49f94a",
    "amqtt.broker.Broker._client_connected": "432b724bc4fb7946",
    "amqtt.broker.Broker._initialize_client_session": "5dd89158bbe46266",
    "amqtt.broker.Broker._handle_client_session": "8b1b52a03df9daf5",
    "amqtt.broker.Broker._client_message_loop": "916c4647c3389918",
    "amqtt.broker.Broker._handle_disconnect": "8c3b8702f3567055",
    "amqtt.broker.Broker._handle_subscription": "3dae18afa195209e",
    "amqtt.broker.Broker._handle_message_delivery": "89727723da550bed",
    "amqtt.broker.Broker._authenticate": "4d7db8cc6fe2c3f6",
    "amqtt.broker.Broker._topic_filtering": "9259ae5e1dd3e20d",
    "amqtt.broker.Broker._broadcast_message": "78ad4edb7efb3b72",
    "amqtt.broker.Broker._publish_session_retained_messages": "78cd66096c935c1f",
    "amqtt.broker.Broker._publish_retained_messages_for_subscription": "d6ad257821ba29ef",
    "amqtt.broker.Broker.add_subscription": "07757b63113c395e",
    "amqtt.broker.Broker._del_subscription": "415f349273b0552d",
    "amqtt.broker.Broker._del_all_subscriptions": "615579810f47d1e0",
    "amqtt.broker.Broker._delete_session": "a8333dded50648a7",
    "amqtt.broker.Broker.retain_message": "6233eff2618baede",
    "amqtt.broker.Broker.shutdown": "800adcdd80ded223",
    "amqtt.mqtt.protocol.broker_handler.BrokerProtocolHandler.init_from_connect": "036dc04c1133a18f",
    "amqtt.mqtt.protocol.handler.ProtocolHandler._reader_loop": "93f3b8e4483040d0",
    "amqtt.mqtt.protocol.handler.ProtocolHandler.mqtt_publish": "30cb8f651cc521c5",
    "amqtt.adapters.StreamWriterAdapter.close": "9f228a1f968d964e",
}


def _resolve(dotted: str) -> object:
    """The function named ``module.Class.method`` (the longest importable module prefix)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = inspect.getattr_static(obj, attr)
        return obj.__func__ if isinstance(obj, classmethod | staticmethod) else obj
    raise ImportError(f"cannot import {dotted}")


def digest(dotted: str) -> str:
    """A digest of the source of the amqtt function named ``dotted`` (module.Class.method)."""
    try:
        source = inspect.getsource(_resolve(dotted))  # type: ignore[arg-type]
    except (ImportError, AttributeError, OSError, TypeError):
        return "missing"
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def digests() -> dict[str, str]:
    return {name: digest(name) for name in REVIEWED}


def changes(sources: bool = True) -> list[str]:
    """What differs from the reviewed amqtt: its version, and (``sources``) each method whose source changed."""
    import amqtt

    found = [] if amqtt.__version__ == REVIEWED_VERSION else [f"amqtt {amqtt.__version__} (reviewed: "
                                                             f"{REVIEWED_VERSION})"]
    if sources:
        found += [name for name, value in REVIEWED.items() if digest(name) != value]
    return found
