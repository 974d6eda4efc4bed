"""The web viewer on a network: host check (DNS rebinding), access token, bounded message API — over real HTTP."""

from __future__ import annotations

import hashlib

import pytest
import requests

from simulator.message_log import KEEP_BYTES, MessageLog
from simulator.viewer.access import COOKIE, ViewerAccess, is_loopback, user_token
from simulator.viewer.server import ViewerServer


@pytest.fixture
def device(run_device, video_file):
    device, _viewer = run_device(project="", source=str(video_file))
    return device


@pytest.fixture
def viewer(device):
    servers = []

    def make(**kwargs) -> ViewerServer:
        server = ViewerServer(device, "127.0.0.1", 0, **kwargs).start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


def base(server: ViewerServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def test_foreign_host_or_origin_is_refused(viewer):
    v = viewer()
    url = base(v) + "/api/status"
    assert requests.get(url, timeout=10).status_code == 200
    assert requests.get(url, headers={"Host": f"localhost:{v.port}"}, timeout=10).status_code == 200
    # a name that an attacker's DNS points at 127.0.0.1
    rebound = requests.get(url, headers={"Host": f"attacker.example:{v.port}"}, timeout=10)
    assert rebound.status_code == 403 and "host name" in rebound.text
    cross = requests.get(url, headers={"Origin": "http://attacker.example"}, timeout=10)
    assert cross.status_code == 403
    same = requests.get(url, headers={"Origin": f"http://127.0.0.1:{v.port}"}, timeout=10)
    assert same.status_code == 200
    stream = requests.get(base(v) + "/stream/device.mjpeg", headers={"Host": "attacker.example"}, timeout=10,
                          stream=True)
    assert stream.status_code == 403


def test_allow_host_adds_a_name(viewer):
    v = viewer(access=ViewerAccess.for_listen("127.0.0.1", extra_hosts=["pi.example"]))
    ok = requests.get(base(v) + "/api/status", headers={"Host": f"pi.example:{v.port}"}, timeout=10)
    assert ok.status_code == 200


def test_token_is_required_on_pages_streams_and_api(viewer):
    token = "t" * 32
    v = viewer(access=ViewerAccess(allowed_hosts={"127.0.0.1"}, token=token))
    assert v.url.endswith(f"?token={token}")
    for path in ("/", "/api/status", "/api/messages", "/stream/project.mjpeg", "/stream/device.mjpeg"):
        r = requests.get(base(v) + path, timeout=10, stream=True)
        assert r.status_code == 401, path
        r.close()
    wrong = requests.get(base(v) + "/api/status?token=" + "x" * 32, timeout=10)
    assert wrong.status_code == 401
    bearer = requests.get(base(v) + "/api/status", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert bearer.status_code == 200 and bearer.json()["thing_name"]
    # the printed URL: the first visit sets a cookie and drops the token from the address
    session = requests.Session()
    first = session.get(v.url, timeout=10, allow_redirects=False)
    assert first.status_code == 302 and first.headers["Location"] == "/"
    assert session.cookies.get(COOKIE) == token and "HttpOnly" in first.headers["Set-Cookie"]
    assert session.get(base(v) + "/", timeout=10).status_code == 200
    assert session.get(base(v) + "/api/messages", timeout=10).status_code == 200
    stream = session.get(base(v) + "/stream/device.mjpeg", timeout=10, stream=True)
    assert stream.status_code == 200 and stream.headers["Content-Type"].startswith("multipart/x-mixed-replace")
    stream.close()


def test_beyond_loopback_a_token_is_made_and_kept(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    access = ViewerAccess.for_listen("0.0.0.0")
    assert access.token and access.token == user_token()  # kept per user, the same at the next start
    assert ViewerAccess.for_listen("127.0.0.1").token is None  # loopback stays zero-setup
    assert "localhost" in access.allowed_hosts
    made = user_token(tmp_path)
    assert (tmp_path / "viewer-token").stat().st_mode & 0o777 == 0o600 and user_token(tmp_path) == made


@pytest.mark.parametrize("query", ["limit=0", "limit=-5", "limit=501", "since=-1", "limit=abc"])
def test_message_api_bounds_its_parameters(viewer, query):
    v = viewer()
    r = requests.get(f"{base(v)}/api/messages?{query}", timeout=10)
    assert r.status_code == 400 and ("must be" in r.text)


def test_big_payloads_are_kept_small_with_size_and_hash(device, viewer):
    log = MessageLog()
    big = b'{"blob": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    for _ in range(20):
        log.add("$aws/things/t/infer", big)
    kept = log.since(0, 500)
    assert len(kept) == 20 and all(len(m.payload) == KEEP_BYTES for m in kept)
    d = kept[0].as_dict()
    assert d["size"] == len(big) and d["truncated"] and d["sha256"] == hashlib.sha256(big).hexdigest()
    log.add("small", b"{}")
    assert log.since(20)[0].as_dict() == {"seq": 21, "time": log.since(20)[0].time, "topic": "small",
                                          "payload": "{}", "size": 2}
    # through the device: a 4 MB message on the device's topic comes back small from the API
    device.messages.add(device.infer_topic, big)
    v = viewer()
    r = requests.get(f"{base(v)}/api/messages?limit=500", timeout=10)
    assert r.status_code == 200 and len(r.content) < 4 * KEEP_BYTES
    assert r.json()["messages"][-1]["size"] == len(big)
