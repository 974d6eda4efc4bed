"""``greengrasssdk``: ``client('iot-data')`` (publish, thing shadows) and ``client('lambda')`` (invoke).

Publishes go to the simulator's broker (or the external one it was told to use) with an ordinary MQTT client;
shadows live in a local store that survives restarts, and their accepted/delta documents are published on the
usual ``$aws/things/<thing>/shadow/...`` topics.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable

from simulator.ipc import context
from simulator.ipc.mqtt import MqttLink
from simulator.ipc.process import once, stats
from simulator.ipc.shadows import ShadowError, ShadowStore
from simulator.ipc.topics import shadow_topic

log = logging.getLogger("greengrasssdk")

__all__ = ["client", "ShadowError"]

# Handlers of Lambdas deployed on this simulated device, by function name (the host registers them).
local_functions: dict[str, Callable] = {}


@once
def _link() -> MqttLink:
    ctx = context.current()
    return ctx.link(f"{ctx.thing_name}-lambda").start()


def _to_bytes(payload, what: str = "payload") -> bytes:
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    raise TypeError(f"{what} must be bytes or str, got {type(payload).__name__} (did you forget json.dumps?)")


class IoTDataClient:
    def publish(self, **kwargs) -> None:
        topic = kwargs.get("topic")
        if not topic:
            raise ValueError("publish: the keyword argument topic= is required")
        link = _link()
        if not link.publish(topic, _to_bytes(kwargs.get("payload", b""))):
            stats().add("publish_dropped")
        else:
            stats().add("publishes")

    def get_thing_shadow(self, **kwargs) -> dict:
        thing = kwargs.get("thingName") or context.current().thing_name
        return {"payload": json.dumps(_store().get(thing)).encode()}

    def update_thing_shadow(self, **kwargs) -> dict:
        thing = kwargs.get("thingName") or context.current().thing_name
        try:
            request = json.loads(_to_bytes(kwargs.get("payload", b"{}")))
        except ValueError as exc:
            raise ShadowError(f"the shadow update payload is not JSON: {exc}", 400) from exc
        accepted, delta = _store().update(thing, request)
        link = _link()
        link.publish(shadow_topic(thing, "update/accepted"), json.dumps(accepted))
        if delta:
            link.publish(shadow_topic(thing, "update/delta"),
                         json.dumps({"state": delta, "version": accepted["version"],
                                     "timestamp": accepted["timestamp"]}))
        return {"payload": json.dumps(accepted).encode()}

    def delete_thing_shadow(self, **kwargs) -> dict:
        thing = kwargs.get("thingName") or context.current().thing_name
        result = _store().delete(thing)
        _link().publish(shadow_topic(thing, "delete/accepted"), json.dumps(result))
        return {"payload": json.dumps(result).encode()}


@once
def _store() -> ShadowStore:
    return ShadowStore(context.current().shadows)


class _Body(io.BytesIO):
    """Like botocore's StreamingBody: ``.read()`` gives the bytes."""


class LambdaClient:
    def invoke(self, **kwargs) -> dict:
        name = str(kwargs.get("FunctionName", ""))
        short = name.split(":function:")[-1].split(":")[0]
        handler = local_functions.get(short) or local_functions.get(name)
        payload = kwargs.get("Payload", b"")
        try:
            event = json.loads(_to_bytes(payload, "Payload") or b"null")
        except ValueError:
            event = payload
        if handler is None:
            log.warning("invoke: no function %r is deployed on this simulated device (have: %s)",
                        name, ", ".join(local_functions) or "none")
            err = {"errorMessage": f"Function not found: {name}", "errorType": "ResourceNotFoundException"}
            return {"FunctionError": "Unhandled", "Payload": _Body(json.dumps(err).encode()), "StatusCode": 404}
        if kwargs.get("InvocationType") == "Event":
            threading.Thread(target=handler, args=(event, None), daemon=True).start()
            return {"Payload": _Body(b""), "StatusCode": 202}
        try:
            result = handler(event, None)
        except Exception as exc:  # noqa: BLE001 - reported to the caller as Lambda did
            err = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return {"FunctionError": "Handled", "Payload": _Body(json.dumps(err).encode()), "StatusCode": 200}
        body = result if isinstance(result, (bytes, str)) else json.dumps(result)
        return {"Payload": _Body(_to_bytes(body)), "StatusCode": 200}


def client(service: str, *args, **kwargs):
    if service == "iot-data":
        return IoTDataClient()
    if service == "lambda":
        return LambdaClient()
    raise ValueError(f"greengrasssdk.client: unknown service {service!r} (have 'iot-data' and 'lambda')")
