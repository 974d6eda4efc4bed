"""The broker's password file, in mosquitto's own format, so the same file works with a mosquitto broker.

One user a line, ``NAME:$7$<iterations>$<base64 salt>$<base64 hash>`` (PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte
hash: what ``mosquitto_passwd`` writes; mosquitto's older ``$6$`` SHA-512 lines are read too). A user's role is kept
in a comment line that mosquitto ignores: ``# deeplens-sim role NAME instructor``. A user without one is a thing
user, whose name is its thing name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from simulator.errors import ConfigError

ITERATIONS = 10000
SALT_BYTES = 12
ROLE_PREFIX = "# deeplens-sim role "
NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")

Role = Literal["thing", "instructor"]


def hash_password(password: str, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """mosquitto's ``$7$`` form of ``password``."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """True if ``password`` matches a ``$7$`` (PBKDF2-SHA512) or ``$6$`` (SHA-512) hash."""
    parts = encoded.split("$")
    try:
        if len(parts) == 5 and parts[1] == "7":
            salt, expected = base64.b64decode(parts[3]), base64.b64decode(parts[4])
            digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(parts[2]))
        elif len(parts) == 4 and parts[1] == "6":
            salt, expected = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            digest = hashlib.sha512(password.encode("utf-8") + salt).digest()
        else:
            return False
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(digest, expected)


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise ConfigError(f"invalid user name {name!r}",
                          hint="use 1-128 letters, digits, '_', '.' or '-' (a thing user's name is its thing name)")
    return name


def generate_password() -> str:
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class User:
    name: str
    hash: str
    role: Role = "thing"


class PasswordFile:
    """A password file's users, read from and written to ``path`` (written atomically, mode 0600)."""

    def __init__(self, path: Path, users: dict[str, User] | None = None) -> None:
        self.path = Path(path)
        self.users: dict[str, User] = dict(users or {})

    @classmethod
    def load(cls, path: Path, missing_ok: bool = False) -> PasswordFile:
        path = Path(path)
        if not path.exists():
            if missing_ok:
                return cls(path)
            raise ConfigError(f"{path}: no such password file",
                              hint="create it with: python main.py users add NAME")
        hashes: dict[str, str] = {}
        roles: dict[str, Role] = {}
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.strip()
            if line.startswith(ROLE_PREFIX):
                name, _, role = line[len(ROLE_PREFIX):].partition(" ")
                if role.strip() != "instructor":
                    raise ConfigError(f"{path}, line {number}: unknown role {role.strip()!r}",
                                      hint="the only role is 'instructor'")
                roles[name] = "instructor"
                continue
            if not line or line.startswith("#"):
                continue
            name, sep, encoded = line.partition(":")
            if not sep or not name or not encoded.startswith(("$7$", "$6$")):
                raise ConfigError(f"{path}, line {number}: not a 'NAME:$7$...' password line",
                                  hint="manage the file with: python main.py users add|remove NAME")
            hashes[name] = encoded
        users = {n: User(n, h, roles.get(n, "thing")) for n, h in hashes.items()}
        return cls(path, users)

    def check(self, name: str, password: str) -> User | None:
        """The user, if ``password`` is theirs."""
        user = self.users.get(name)
        if user is not None and verify_password(password, user.hash):
            return user
        return None

    def set(self, name: str, password: str, role: Role = "thing") -> User:
        user = User(check_name(name), hash_password(password), role)
        self.users[name] = user
        return user

    def remove(self, name: str) -> bool:
        return self.users.pop(name, None) is not None

    def text(self) -> str:
        lines = [f"{ROLE_PREFIX}{u.name} instructor" for u in self.users.values() if u.role == "instructor"]
        lines += [f"{u.name}:{u.hash}" for u in self.users.values()]
        return "".join(f"{line}\n" for line in lines)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".passwd-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(self.text())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
