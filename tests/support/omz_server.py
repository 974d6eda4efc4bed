"""A local Open Model Zoo server (``omz_server`` fixture: OMZ's storage layout below /models_bin/1, the paths
asked for recorded), serving the tiny IR of ``tests.support.tiny_ir``. Used as a pytest plugin:
``pytest_plugins = ["tests.support.omz_server"]``."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from simulator.inference import omz
from tests.support.tiny_ir import save_mean_ir


class OmzServer:
    """A local HTTP server with OMZ's storage layout below /models_bin/1; records the paths asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):  # noqa: N802
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/models_bin/1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def publish(self, name: str, precision: str, size: int = 16) -> Path:
        folder = self.root / "models_bin" / "1" / name / precision
        folder.mkdir(parents=True, exist_ok=True)
        return save_mean_ir(folder, name, size=size, fp16=precision.startswith("FP16"))

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def omz_server(tmp_path, monkeypatch):
    server = OmzServer(tmp_path / "omz")
    monkeypatch.setenv(omz.ENV_URL, server.url)
    yield server
    server.stop()

