"""Who may use the web viewer.

* **Host check** (against DNS rebinding): a request is served only when its ``Host`` header names an address the
  viewer listens on (``127.0.0.1``, ``localhost``, this machine's names and addresses when it listens on all of
  them, and any ``--allow-host`` name) and its ``Origin``, when the browser sends one, is one of those too.
  Otherwise a page the user visits elsewhere could read the streams and the status through a name that
  resolves to 127.0.0.1.
* **Access token** (required when the viewer listens beyond loopback): a random token, kept per user, printed at
  start as a ready-to-open URL (``http://pi.local:8080/?token=…``) as Jupyter does. The first visit with
  ``?token=`` sets a cookie (HttpOnly, SameSite=Strict) and redirects to the same URL without it; scripts may
  send ``Authorization: Bearer <token>``. Every page, stream and API call needs it.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from simulator.paths import data_dir

log = logging.getLogger(__name__)

COOKIE = "deeplens_sim_token"
TOKEN_FILE = "viewer-token"


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def user_token(folder: Path | None = None) -> str:
    """This user's viewer token (made once, kept in the data folder with mode 0600)."""
    path = (folder or data_dir()) / TOKEN_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 20:
            return token
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def _machine_names() -> set[str]:
    names = {"localhost", "127.0.0.1", "::1"}
    for name in {socket.gethostname(), socket.getfqdn()}:
        if name:
            names |= {name.lower(), f"{name.split('.')[0].lower()}.local"}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            names.add(str(info[4][0]))
    except OSError:
        pass
    try:
        import psutil

        for addrs in psutil.net_if_addrs().values():
            names |= {a.address.split("%")[0] for a in addrs if a.family in (socket.AF_INET, socket.AF_INET6)}
    except ImportError:  # pragma: no cover - psutil is a dependency
        pass
    return names


@dataclass
class ViewerAccess:
    """The rules for one viewer; ``for_listen(host)`` makes the usual ones for a listen address."""

    allowed_hosts: set[str] = field(default_factory=set)
    token: str | None = None

    @classmethod
    def for_listen(cls, host: str, extra_hosts: Iterable[str] = (), token: str | None = None) -> ViewerAccess:
        allowed = {"localhost", "127.0.0.1", "::1"} if is_loopback(host) else _machine_names()
        if host not in ("0.0.0.0", "::", ""):
            allowed.add(host.strip("[]").lower())
        allowed |= {h.lower() for h in extra_hosts}
        if not is_loopback(host) and token is None:
            token = user_token()
        return cls(allowed_hosts=allowed, token=token)

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        host = urlsplit(f"//{host_header}").hostname or ""
        return host.lower() in self.allowed_hosts

    def origin_allowed(self, origin: str | None) -> bool:
        if origin is None or origin == "null":
            return origin is None
        parts = urlsplit(origin)
        return (parts.hostname or "").lower() in self.allowed_hosts

    def token_ok(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        offered = [request.cookies.get(COOKIE, ""), request.query.get("token", "")]
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            offered.append(auth[7:].strip())
        return any(o and hmac.compare_digest(o, self.token) for o in offered)

    def middleware(self) -> Callable:
        @web.middleware
        async def check(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                        ) -> web.StreamResponse:
            if not self.host_allowed(request.host) or not self.origin_allowed(request.headers.get("Origin")):
                log.warning("viewer: refused a request for host %r (origin %r)", request.host,
                            request.headers.get("Origin"))
                raise web.HTTPForbidden(text="this viewer does not answer for that host name "
                                             "(use the address it printed, or start it with --allow-host NAME)\n")
            if not self.token_ok(request):
                raise web.HTTPUnauthorized(
                    text="open the viewer with the URL the simulator printed at start (it ends in ?token=…)\n",
                    headers={"WWW-Authenticate": 'Bearer realm="deeplens-simulator"'})
            if self.token is not None and request.query.get("token"):
                if request.method == "GET" and request.path == "/":
                    rest = {k: v for k, v in request.query.items() if k != "token"}
                    response: web.StreamResponse = web.Response(
                        status=302, headers={"Location": str(request.rel_url.with_query(rest))})
                else:
                    response = await handler(request)
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict",
                                    secure=request.secure, max_age=30 * 24 * 3600)
                return response
            return await handler(request)

        return check
