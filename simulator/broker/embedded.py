"""The embedded MQTT broker: amqtt, in a thread of the core process, bound to 127.0.0.1 by default.

amqtt (the maintained fork of hbmqtt) follows MQTT 3.1.1 §4.7.2 strictly and closes the connection of any client
that publishes to a topic starting with ``$``. AWS IoT Core — which the device talked to — lets a thing publish
to its reserved ``$aws/things/<thing>/...`` topics, and DeepLens Lambdas publish to ``$aws/things/<thing>/infer``.
So this broker makes exactly that exception: client publishes to ``$aws/`` topics are accepted and delivered to
subscribers of matching filters (per the spec, a filter starting with ``#`` or ``+`` still does not match them);
every other ``$`` topic (``$SYS``...) stays refused as before.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading

from amqtt.broker import Broker, BrokerEvents
from amqtt.contexts import Action

from simulator.errors import PortInUseError, SimulatorError

log = logging.getLogger(__name__)

AWS_PREFIX = "$aws/"


class IoTCoreBroker(Broker):
    """amqtt's broker, with AWS IoT Core's permission to publish to ``$aws/`` topics."""

    async def _handle_message_delivery(self, client_session, handler, wait_deliver) -> bool:
        app_message = wait_deliver.result() if wait_deliver.done() else None
        if app_message is None or not (app_message.topic or "").startswith(AWS_PREFIX) \
                or "#" in app_message.topic or "+" in app_message.topic:
            return await super()._handle_message_delivery(client_session, handler, wait_deliver)
        await self.plugins_manager.fire_event(BrokerEvents.MESSAGE_RECEIVED,
                                              client_id=client_session.client_id, message=app_message)
        if await self._topic_filtering(client_session, topic=app_message.topic, action=Action.PUBLISH):
            await self.plugins_manager.fire_event(BrokerEvents.MESSAGE_BROADCAST,
                                                  client_id=client_session.client_id, message=app_message)
            await self._broadcast_message(client_session, app_message.topic, app_message.data)
            if app_message.publish_packet and app_message.publish_packet.retain_flag:
                await self.retain_message(client_session, app_message.topic, app_message.data, app_message.qos)
        return True


def _check_port(host: str, port: int) -> int:
    """Bind once to report a taken port clearly (and to pick a free one for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(f"MQTT port {host}:{port} is already in use",
                                     hint="stop the other broker, or choose another port with --mqtt-port "
                                          "(0 picks a free one), or use it with --broker") from None
            raise PortInUseError(f"cannot listen for MQTT on {host}:{port}: {exc.strerror}") from None
        return s.getsockname()[1]


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: IoTCoreBroker | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _config(self) -> dict:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        self.port = _check_port(self.host, self.port)
        self._thread = threading.Thread(target=self._run, name="mqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise SimulatorError(f"the embedded MQTT broker did not start within {timeout:g} s")
        if self._error is not None:
            raise PortInUseError(f"cannot start the MQTT broker on {self.host}:{self.port}: {self._error}")
        log.info("MQTT broker (amqtt) listening on %s:%d", self.host, self.port)
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            self._broker = IoTCoreBroker(self._config())
            await self._broker.start()

        try:
            loop.run_until_complete(boot())
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def stop(self) -> None:
        if self._loop is None or self._broker is None or not self._loop.is_running():
            return
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            fut.result(timeout=5)
        except Exception as exc:  # noqa: BLE001 - stopping anyway
            log.debug("broker shutdown: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
