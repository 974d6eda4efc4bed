"""The local cloud's front door: a WSGI app in front of moto's that answers Rekognition and Polly itself,
creates missing resources on first use and replays the request, and notes what was sent."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..errors import ModelNotFoundError
from .activity import Activity
from .clients import INTERNAL_KEY_ID
from .first_use import Creation, Refusal, creations_for, s3_create_bucket
from .wire import Call, Reply, call_app, json_error, read_call, s3_error, sub_environ

log = logging.getLogger(__name__)

# An own handler answers a call with (status line, headers, body), or None to let moto answer it.
Handler = Callable[[Call], "tuple[str, list[tuple[str, str]], bytes] | None"]
MAX_CREATIONS = 3  # rounds of "create, then replay" for one request (a batch may name several tables)
BOOT_WAIT_S = 120.0  # how long a caller's request waits for the cloud to finish loading its saved state


class Gateway:
    """WSGI app: ``own`` maps a service name (``rekognition``, ``polly``) to the simulator's own handler;
    everything else goes to ``moto_app``.

    Until ``open()`` is called (the cloud has loaded its saved state), only the simulator's own clients are
    answered; a caller's request waits, so it can neither see a half-loaded cloud nor be wiped by the load."""

    def __init__(self, moto_app, region: str, activity: Activity, own: dict[str, Handler] | None = None) -> None:
        self._moto = moto_app
        self._region = region
        self._activity = activity
        self._own = dict(own or {})
        self._create_lock = threading.Lock()
        self._created: set[tuple[str, str, str]] = set()
        self._opened = threading.Event()
        self._failed = False

    def open(self, failed: bool = False) -> None:
        """Let callers' requests through (``failed``: the cloud could not load; answer them 503)."""
        self._failed = failed
        self._opened.set()

    def __call__(self, environ: dict, start_response):
        call = read_call(environ)
        if call.access_key != INTERNAL_KEY_ID and not self._loaded(call):
            status, headers, body = json_error("ServiceUnavailable", "the local cloud could not load", 503)
            start_response(status, headers)
            return [body]
        handler = self._own.get(call.service or "")
        if handler is not None:
            try:
                answer = handler(call)
            except ModelNotFoundError as exc:  # offline and never fetched: say how to get it (no retries: 4xx)
                log.error("local %s: %s", call.service, exc)
                answer = json_error("ModelNotFoundException", f"{exc.message} ({exc.hint})", 400)
            except Exception:  # an own handler's bug must reach the client as AWS's 500, not kill the thread
                log.exception("local %s failed on %s", call.service, call.action() or call.path)
                answer = json_error("InternalServerError", "the local cloud failed on this request", 500)
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                return [body]
        refusal = s3_create_bucket(call)
        if refusal is not None:
            return self._refuse(refusal, start_response)
        reply = call_app(self._moto, call.fresh_environ())
        for _ in range(0 if call.access_key == INTERNAL_KEY_ID else MAX_CREATIONS):
            plan = creations_for(call, reply, self._region)
            if isinstance(plan, Refusal):
                return self._refuse(plan, start_response)
            if not plan:
                break
            failure = self._create(call, plan)
            if failure is not None:
                reply = failure
                break
            reply = call_app(self._moto, call.fresh_environ())
        if reply.code < 400:
            try:
                self._activity.record(call, reply)
            except Exception:  # noting activity must never fail the request
                log.exception("could not note %s %s", call.service, call.action())
        start_response(reply.status, reply.headers)
        return reply.app_iter

    def _loaded(self, call: Call) -> bool:
        """Wait for the cloud to load its saved state; False when it could not."""
        if not self._opened.is_set():
            log.debug("a call to %s waits for the local cloud to load its state", call.service or "an unnamed service")
        return self._opened.wait(BOOT_WAIT_S) and not self._failed

    @staticmethod
    def _refuse(refusal: Refusal, start_response):
        status, headers, body = s3_error(refusal.code, refusal.message, 400, BucketName=refusal.bucket)
        start_response(status, headers)
        return [body]

    def _create(self, call: Call, plan: list[Creation]) -> Reply | None:
        """Create every resource of ``plan``; the error reply of the first creation that failed, else None."""
        with self._create_lock:
            for item in plan:
                environ = sub_environ(call, item.service, item.region, item.method, item.path, item.body,
                                      item.headers)
                reply = call_app(self._moto, environ)
                if reply.code >= 400:
                    if reply.error_code() in item.already_exists_codes:
                        continue
                    log.warning("could not create %s %s on first use: %s", item.kind, item.name,
                                reply.error_code() or reply.status)
                    return reply
                reply.body()
                marker = (item.kind, item.region, item.name)
                if marker not in self._created:
                    self._created.add(marker)
                    where = f" in {item.region}" if item.region != self._region else ""
                    detail = f"; {item.detail}" if item.detail else ""
                    log.info("created %s %s on first use (local cloud)%s%s", item.kind, item.name, where, detail)
        return None
