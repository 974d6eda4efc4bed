"""boto3 clients of the local cloud for the simulator's own use, configured explicitly (endpoint, dummy
credentials, region), so nothing is read from or written to this process's environment."""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

ACCESS_KEY_ID = "DEEPLENSSIMLOCAL"       # dummies for Lambdas: the local cloud checks no signature
SECRET_ACCESS_KEY = "deeplens-sim-local-cloud"
INTERNAL_KEY_ID = "DEEPLENSSIMINTERNAL"  # the simulator's own clients: nothing is created on first use for them


@functools.cache
def _session() -> boto3.session.Session:
    """One session for the process, so botocore reads each service's model once (boto3 loads on first use)."""
    import boto3

    return boto3.session.Session(aws_access_key_id=INTERNAL_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)


class Clients:
    """One cached client per (service, region), all talking to ``endpoint``."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], object] = {}
        self._session = _session()
        from botocore.config import Config

        self._config: Any = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=120,
                              s3={"addressing_style": "path"}, max_pool_connections=4)

    def get(self, service: str, region: str | None = None):
        """A client of ``service`` in ``region`` (the cloud's own region by default)."""
        key = (service, region or self.region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._session.client(service, region_name=key[1], endpoint_url=self.endpoint,
                                              config=self._config)
                self._clients[key] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()  # type: ignore[attr-defined]
            self._clients.clear()
