"""What a run exposes beyond this computer, and how it is protected.

On loopback (the default) nothing needs setting up. On any other address (``--listen 0.0.0.0``) the broker needs a
password file — ``--password-file``, else ``<data dir>/broker/passwd``, made at the first such start with an
``instructor`` user whose password is printed once — and the web viewer asks for the user's access token
(``simulator.viewer.access``). ``--tls-cert/--tls-key`` add MQTT over TLS (8883) and serve the viewer over HTTPS.
"""

from __future__ import annotations

import logging
import ssl
import sys
from pathlib import Path

from simulator.config import RunConfig
from simulator.paths import data_dir

log = logging.getLogger(__name__)

FIRST_USER = "instructor"


def default_password_file() -> Path:
    return data_dir() / "broker" / "passwd"


def password_file(config: RunConfig) -> Path | None:
    """The broker's password file for this run (None on loopback without one); made, with an instructor user whose
    password is printed once, when the broker listens beyond loopback and the default file does not exist yet."""
    if config.password_file is not None:
        return Path(config.password_file)
    if config.loopback:
        return None
    path = default_password_file()
    if not path.exists():
        from simulator.broker.passwords import PasswordFile, generate_password

        users = PasswordFile.load(path, missing_ok=True)
        secret = generate_password()
        users.set(FIRST_USER, secret, role="instructor")
        users.save()
        print(f"created the broker's password file {path} with the user '{FIRST_USER}', password: {secret}\n"
              f"  (shown once; add a user per student or device with: python main.py users add NAME)",
              file=sys.stderr, flush=True)
    return path


def viewer_tls(config: RunConfig) -> ssl.SSLContext | None:
    """HTTPS for the web viewer, from the same certificate as MQTT over TLS."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(config.tls_cert), str(config.tls_key))
    return context
