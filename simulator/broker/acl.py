"""Who may connect, publish and subscribe: the embedded broker's roles.

- ``instructor`` users publish and subscribe anywhere.
- A ``thing`` user (its user name is its thing name) publishes only to ``$aws/things/<thing>/...`` and
  ``deeplens/<thing>/...``, and subscribes only under ``$aws/things/`` and ``deeplens/`` (any thing's topics).
- Per-run credentials that the broker issues (``issue_credentials``) make a thing user of the core and the Lambda
  of a hosted thing, or an instructor user of a service such as the rules engine.
- Anonymous clients (only on loopback, only without a password file) connect and subscribe anywhere, and
  publish anywhere except to the topics of the things this broker hosts.

Publishing to a ``$`` topic other than ``$aws/...`` is refused for everyone (MQTT 3.1.1 §4.7.2 reserves them for
the server; AWS IoT Core lets a thing use its ``$aws/things/<thing>/`` topics).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Literal

from simulator.broker.passwords import PasswordFile, Role, generate_password
from simulator.errors import ConfigError

THING_PREFIXES = ("$aws/things/", "deeplens/")

CONNACK_ACCEPTED = 0
CONNACK_BAD_CREDENTIALS = 4
CONNACK_NOT_AUTHORIZED = 5


@dataclass(frozen=True)
class Principal:
    kind: Literal["anonymous", "thing", "instructor"]
    name: str = ""


ANONYMOUS = Principal("anonymous")
THING_RE = re.compile(r"[A-Za-z0-9:_.-]{1,128}")  # AWS IoT thing names (and '.')


def check_thing(name: str) -> str:
    if not THING_RE.fullmatch(name):
        raise ConfigError(f"invalid thing or user name {name!r}",
                          hint="use 1-128 letters, digits, ':', '_', '.' or '-'")
    return name


def thing_of(topic: str) -> str | None:
    """The thing a ``$aws/things/<thing>/...`` or ``deeplens/<thing>/...`` topic belongs to."""
    for prefix in THING_PREFIXES:
        if topic.startswith(prefix):
            thing, sep, _ = topic[len(prefix):].partition("/")
            return thing if sep or thing else None
    return None


class Policy:
    """Authentication (password file, issued credentials) and the publish / subscribe rules above."""

    def __init__(self, passwords: PasswordFile | None, hosted_things: tuple[str, ...] | list[str] = ()) -> None:
        self.passwords = passwords
        self.hosted: set[str] = {check_thing(t) for t in hosted_things}
        self._issued: dict[str, tuple[str, Role]] = {}  # user name -> (password, role)

    @property
    def anonymous_allowed(self) -> bool:
        return self.passwords is None

    def host_thing(self, thing: str) -> None:
        self.hosted.add(check_thing(thing))

    def issue_credentials(self, name: str, role: Role = "thing") -> tuple[str, str]:
        """Per-run credentials for ``name`` (a thing name, or a service's name with role ``instructor``); a
        thing named here becomes hosted. Issuing again for the same name gives a new password."""
        password = generate_password()
        self.add_issued(name, password, role)
        return name, password

    def add_issued(self, name: str, password: str, role: Role = "thing") -> None:
        """Credentials issued elsewhere (by the process that started this broker), as ``issue_credentials``."""
        check_thing(name)
        if role == "thing":
            self.hosted.add(name)
        self._issued[name] = (password, role)

    def issued(self) -> dict[str, tuple[str, Role]]:
        return dict(self._issued)

    def needs_hashing(self, username: str | None) -> bool:
        """True if checking this user's password costs a PBKDF2 round (worth running off the event loop)."""
        return username is not None and username not in self._issued and self.passwords is not None

    def authenticate(self, username: str | None, password: bytes | None) -> Principal | int:
        """The principal, or a CONNACK refusal code (4: wrong credentials, 5: credentials required)."""
        if username is None:
            return ANONYMOUS if self.anonymous_allowed else CONNACK_NOT_AUTHORIZED
        text = password.decode("utf-8", "replace") if password is not None else ""
        issued = self._issued.get(username)
        if issued is not None and hmac.compare_digest(issued[0].encode(), text.encode()):
            return Principal(issued[1], username)
        user = self.passwords.check(username, text) if self.passwords is not None else None
        if user is not None:
            return Principal(user.role, user.name)
        return CONNACK_BAD_CREDENTIALS

    def may_publish(self, who: Principal, topic: str) -> bool:
        if topic.startswith("$") and not topic.startswith("$aws/"):
            return False
        if who.kind == "instructor":
            return True
        thing = thing_of(topic)
        if who.kind == "thing":
            return thing == who.name
        return thing is None or thing not in self.hosted

    def may_subscribe(self, who: Principal, topic_filter: str) -> bool:
        if who.kind == "thing":
            return topic_filter.startswith(THING_PREFIXES)
        return True
