"""Field faults against one running simulated device: every fault that once took the simulator down, provoked
again, with a figure that shows whether it holds. One line per fault: "held" or "NOT held", then the figure.

Method. One ``SimulatedDevice`` runs in this process — embedded broker, web viewer, a camera reading a local
MJPEG-over-HTTP server (tests/support/mjpeg_server.py), and bench/lambdas/ticker.py publishing a numbered result
20 times a second — and the faults are provoked one after the other from outside, the way they arrive in the field:
raw sockets and paho clients on the broker's port, HTTP requests on the viewer's, misbehaving Lambdas deployed on
the device, files planted where the device puts its own. Nothing calls into the broker: its figures come from
``device.broker.stats()`` and are printed "n/a" when a counter is not there. Memory is the resident set of this
process (camera, viewer, core) and its children (the broker's process, the Lambda's); times are wall-clock seconds
on this machine.

- files: a symlink planted where a shared-memory slot goes (``SharedSlot.create`` must refuse it and leave its
  target alone); a run folder of a dead process planted before the start (the start must remove it).
- camera: the MJPEG server stops for 5 s and starts again on the same port (the status says "reconnecting …"
  meanwhile; figure: seconds from its restart to new frames); an image folder whose first entries are a folder
  named ``x.jpg`` and an unreadable image (figure: entries skipped, the camera never reconnects).
- viewer: ``limit=0`` and ``limit=-5`` (400), a foreign ``Host`` header (403), twenty 16 MB messages in the
  device's message log, then ``/api/messages?limit=500`` while ``/api/status`` is asked meanwhile.
- broker: anonymous publishes to the device's infer and status topics (refused, nothing forged reaches the
  device); a client with the core's client id prefix, then one with its exact id (the core's link comes back and
  subscribes again; figure: seconds off the broker, messages lost); a PUBLISH announcing 268 MB (seconds until the
  socket is closed, memory); 1,050 silent sockets (how many are closed, do MQTT and the viewer answer); a QoS 1
  flood for 20 s from a child process with subscribers that never read (what a healthy subscriber in that child
  received, memory, who was disconnected, the device's own feed meanwhile) and the log records written during it.
  The flood holds when every message is acknowledged, the device's own feed (the core's subscriber, at the
  Lambda's rate) keeps flowing and loses nothing, the healthy subscriber keeps receiving, memory grows less than
  100 MB, and the broker never falls more than 10,000 messages behind the flooder (its ``received`` counter when
  the sending ends): a broker that takes messages faster than it handles them buffers without bound. The healthy
  subscriber is not required to get every message: the flood is unpaced (~14,000 msg/s here, half of them to its
  topic), faster than a Python paho client reads, so it is a slow consumer itself and is disconnected when its
  queue fills — the same flood with no stalled subscriber at all disconnected it as often (9 times in 20 s).
- supervisor: tests/lambdas/misbehaving/ deployed one after the other as projects — ``hangs.py`` (watchdog 5 s),
  ``leaks.py`` (memory limit 300 MB, in its own process and in a child), ``spawns.py`` (orphans: processes whose
  environment carries the supervisor's run marker, after its crash-restart and after undeploying), ``floods.py``
  (200,000 lines and a 50 MB line: lines shown + dropped, this process's memory).

``--quick`` shortens the camera outage (3 s) and the flood (5 s); the other waits end as soon as their event comes.

Exit status 0 when every fault held, 1 otherwise. The run's log (every record of the simulator and the Lambdas'
output) is kept beside the temporary folder, and its path printed.

Usage: python bench/faults.py [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing as mp
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.ipc.mqtt import disconnect_and_stop  # noqa: E402
from simulator.runtime.process_tree import MARKER_VARIABLE  # noqa: E402 - set on every process of a Lambda run
from tests.support.mqtt_packets import (  # noqa: E402 - the raw packets the tests send too
    connect_packet,
    publish_packet,
    subscribe_packet,
    text_field,
)

TICKER = ROOT / "bench" / "lambdas" / "ticker.py"
MISBEHAVING = ROOT / "tests" / "lambdas" / "misbehaving"
FLOOD_TOPICS = ("$aws/things/flood/infer", "classroom/flood")
MB = 2**20
BACKLOG_BOUND = 10_000  # flood messages taken and not yet routed: 1,000 queued + what the socket buffers hold


@dataclass(frozen=True)
class Outcome:
    fault: str
    held: bool
    figure: str


# -- small tools ----------------------------------------------------------------------------------------------------

def rss_mb(children: bool = True) -> float:
    """Resident memory of this process and (``children``) its children (the broker's process, the Lambda's)."""
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True) if children else ():
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / MB


def wait_for(predicate: Callable[[], Any], timeout: float, step: float = 0.05) -> Any:
    """The first truthy value of ``predicate`` within ``timeout`` seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got or time.monotonic() > deadline:
            return got or None
        time.sleep(step)


def na(value: Any, fmt: str = ",") -> str:
    return "n/a" if value is None else format(value, fmt)


class PeakRss:
    """Resident memory (``rss_mb``) at the start and at its peak while the block runs (sampled)."""

    def __init__(self, interval: float = 0.05, children: bool = True) -> None:
        self.interval, self.start, self.peak, self.children = interval, 0.0, 0.0, children
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_mb(self.children))

    def __enter__(self) -> PeakRss:
        self.start = self.peak = rss_mb(self.children)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.children))


class LogCount(logging.Handler):
    """Counts the records this process logs (the Lambdas' output lines, logger ``lambda.*``, apart)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = self.warnings = self.lambda_lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("lambda."):
            self.lambda_lines += 1
            return
        self.records += 1
        self.warnings += record.levelno >= logging.WARNING


class Recorder:
    """The device's status events and its Lambda's output lines, with the time each arrived."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[float, Any]] = []
        self.lines: list[tuple[float, str, str]] = []

    def event(self, ev: Any) -> None:
        with self._lock:
            self.events.append((time.monotonic(), ev))

    def line(self, kind: str, text: str) -> None:
        with self._lock:
            self.lines.append((time.monotonic(), kind, text))

    def clear(self) -> None:
        with self._lock:
            self.events.clear()
            self.lines.clear()

    def event_of(self, kind: str, after: float = 0.0) -> tuple[float, Any] | None:
        with self._lock:
            return next(((t, e) for t, e in self.events if e.event == kind and t > after), None)

    def line_with(self, text: str) -> tuple[float, str] | None:
        with self._lock:
            return next(((t, line) for t, _, line in self.lines if text in line), None)

    def texts(self) -> list[str]:
        with self._lock:
            return [line for _, _, line in self.lines]


def http_get(port: int, path: str, host: str | None = None, timeout: float = 60.0) -> tuple[int, bytes, float]:
    """(status, body, seconds) of one GET on the viewer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, time.monotonic() - t0
    finally:
        conn.close()


def viewer_answers(port: int) -> bool:
    try:
        return http_get(port, "/api/status", timeout=10)[0] == 200
    except OSError:
        return False


def mqtt_answers(port: int, timeout: float = 5.0) -> bool:
    """A paho client gets its CONNACK within ``timeout`` seconds."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{time.monotonic_ns()}")
    ok = threading.Event()
    client.on_connect = lambda c, u, f, rc, p=None: ok.set() if not rc.is_failure else None
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except OSError:
        return False
    client.loop_start()
    try:
        return ok.wait(timeout)
    finally:
        disconnect_and_stop(client)


# -- MQTT packets on raw sockets ------------------------------------------------------------------------------------

def raw_client(port: int, client_id: str, keepalive: int = 60) -> tuple[socket.socket, bool]:
    """A connected socket and whether its CONNECT was accepted (CONNACK 0)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(connect_packet(client_id, keepalive))
    try:
        return sock, sock.recv(4) == b"\x20\x02\x00\x00"
    except OSError:
        return sock, False


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the peer closes ``sock`` within ``seconds`` (whatever it sent before is read and thrown away)."""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return False


def flood_client(port: int, seconds: float, out: Any) -> None:
    """In a child process: a healthy paho subscriber of ``$aws/things/+/infer`` (QoS 1), and a raw publisher that
    sends ~1 KB QoS 1 messages to FLOOD_TOPICS in turn for ``seconds`` (pipelined, as fast as the broker reads
    them) while it reads its PUBACKs. Puts ``("sending ended", n)`` on ``out`` when it stops sending, then a dict."""
    import paho.mqtt.client as mqtt

    got = {"n": 0, "disconnected": 0}
    subscribed = threading.Event()
    healthy = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="healthy-subscriber")
    healthy.on_connect = lambda c, u, f, rc, p=None: c.subscribe("$aws/things/+/infer", qos=1)
    healthy.on_subscribe = lambda *a: subscribed.set()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        if msg.topic == FLOOD_TOPICS[0]:
            got["n"] += 1

    def on_disconnect(*args: Any) -> None:
        got["disconnected"] += 1

    healthy.on_message = on_message
    healthy.on_disconnect = on_disconnect
    healthy.connect("127.0.0.1", port, keepalive=30)
    healthy.loop_start()
    result: dict[str, Any] = {"sent": 0, "acked": 0, "ack_lag": 0.0, "healthy": 0, "healthy_disconnects": 0,
                              "error": None}
    try:
        if not subscribed.wait(10):
            raise RuntimeError("the healthy subscriber could not subscribe")
        pub, accepted = raw_client(port, "flooder", keepalive=0)
        if not accepted:
            raise RuntimeError("the flooder's CONNECT was refused")
        acked = {"bytes": 0}

        def read_acks() -> None:
            try:
                pub.settimeout(None)
                while data := pub.recv(65536):
                    acked["bytes"] += len(data)
            except OSError:
                pass

        threading.Thread(target=read_acks, daemon=True).start()
        payload, sent, t0 = b"x" * 1000, 0, time.monotonic()
        while time.monotonic() - t0 < seconds:
            batch = b"".join(publish_packet(FLOOD_TOPICS[(sent + i) % 2], b"%08d" % (sent + i) + payload,
                                            qos=1, pid=(sent + i) % 65535 + 1) for i in range(50))
            pub.sendall(batch)  # blocks while the broker does not read; it must keep reading
            sent += 50
        result["sent"] = sent
        out.put(("sending ended", sent))
        t_end = time.monotonic()
        wait_for(lambda: acked["bytes"] // 4 >= sent, 120)
        result["acked"] = acked["bytes"] // 4  # PUBACKs are 4 bytes each
        result["ack_lag"] = time.monotonic() - t_end
        expected = (result["acked"] + 1) // 2  # every other message went to the infer topic, the first one did
        last = {"n": -1, "t": time.monotonic()}

        def settled() -> bool:
            if got["n"] != last["n"]:
                last.update(n=got["n"], t=time.monotonic())
            return got["n"] >= expected or time.monotonic() - last["t"] > 5

        wait_for(settled, 60)
        pub.close()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which prints it as the figure
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["healthy"], result["healthy_disconnects"] = got["n"], got["disconnected"]
    disconnect_and_stop(healthy)
    out.put(result)


# -- processes a Lambda left behind ---------------------------------------------------------------------------------

def marked(prefix: str) -> list[psutil.Process]:
    """Live processes whose environment carries a Lambda-run marker starting with ``prefix``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER_VARIABLE, "").startswith(prefix) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False



# -- the faults -----------------------------------------------------------------------------------------------------

class Bench:
    """One running device and the faults provoked against it, one method each (each returns an Outcome)."""

    def __init__(self, work: Path, quick: bool) -> None:
        self.work, self.quick = work, quick
        self.outage = 3.0 if quick else 5.0
        self.flood_seconds = 5.0 if quick else 20.0
        self.logs = LogCount()
        self.rec = Recorder()
        self.device: Any = None
        self.viewer: Any = None
        self.camera_server: Any = None
        self.stale: Path | None = None

    # -- set-up ----------------------------------------------------------------------------------------------
    def plant_stale_run_folder(self) -> None:
        """A run folder of a simulator that died (kill -9) — a pid that no longer exists — before the start."""
        from simulator.ipc.run_folder import PREFIX, runtime_root

        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        self.stale = runtime_root() / f"{PREFIX}{dead.pid}-faultsbench"
        self.stale.mkdir()
        (self.stale / "frames").write_bytes(b"\0" * MB)

    def start(self) -> None:
        from simulator.config import RunConfig
        from simulator.core import SimulatedDevice
        from simulator.viewer.server import ViewerServer
        from tests.support.mjpeg_server import MjpegServer

        self.camera_server = MjpegServer(fps=15).start()
        self.device = SimulatedDevice(RunConfig(project=str(TICKER), source=self.camera_server.url, mqtt_port=0,
                                                http_port=0, cloud_port=0)).start()
        self.device.on_event(self.rec.event)
        self.device.on_lambda_line(self.rec.line)
        self.viewer = ViewerServer(self.device, "127.0.0.1", 0).start()
        if not wait_for(lambda: self.device.messages.total >= 10, 60):
            raise RuntimeError("the ticker Lambda published nothing within 60 s")

    def stop(self) -> None:
        for part in (self.viewer, self.device, self.camera_server):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # noqa: BLE001 - stop everything else regardless
                    traceback.print_exc()
        if self.stale is not None and self.stale.exists():
            shutil.rmtree(self.stale, ignore_errors=True)

    @property
    def mqtt_port(self) -> int:
        return int(self.device.mqtt_port)

    @property
    def http_port(self) -> int:
        return int(self.viewer.port)

    def stat(self, name: str) -> int | None:
        """A broker counter, or None when this broker does not count it."""
        try:
            value = getattr(self.device.broker.stats(), name)
        except Exception:  # noqa: BLE001 - the broker's counters are optional for this benchmark
            return None
        return value if isinstance(value, int) else None

    def delta(self, name: str, before: int | None) -> int | None:
        after = self.stat(name)
        return None if before is None or after is None else after - before

    def ticker_numbers(self, after_seq: int) -> list[int]:
        """The ticker's sequence numbers in the device's message log after ``after_seq``."""
        numbers = []
        for m in self.device.messages.since(after_seq, 500):
            if m.topic == self.device.infer_topic:
                try:
                    numbers.append(int(json.loads(m.payload)["n"]))
                except (ValueError, KeyError, TypeError):
                    continue
        return numbers

    def last_seq(self) -> int:
        newest = self.device.messages.since(0, 1)
        return newest[-1].seq if newest else 0

    # -- files -----------------------------------------------------------------------------------------------
    def planted_symlink(self) -> Outcome:
        from simulator.ipc.slot import SharedSlot

        folder = self.work / "slot"
        folder.mkdir()
        victim = folder / "victim.txt"
        victim.write_text("precious")
        (folder / "frames").symlink_to(victim)
        try:
            SharedSlot.create(folder / "frames", 1024).close()
            refused = "no: it was opened"
        except OSError as exc:
            refused = f"refused ({type(exc).__name__})"
        intact = victim.read_text() == "precious" and (folder / "frames").is_symlink()
        return Outcome("files: symlink planted where a slot goes", refused.startswith("refused") and intact,
                       f"SharedSlot.create: {refused}; the link's target unchanged: {'yes' if intact else 'NO'}")

    def stale_run_folder(self) -> Outcome:
        assert self.stale is not None
        gone = not self.stale.exists()
        own = self.device.run_dir is not None and self.device.run_dir.is_dir()
        return Outcome("files: stale run folder of a dead pid", gone and own,
                       f"{self.stale.name} (1 MB) removed at start: {'yes' if gone else 'NO'}; "
                       f"the device's own run folder made: {'yes' if own else 'NO'}")

    # -- camera ----------------------------------------------------------------------------------------------
    def camera_outage(self) -> Outcome:
        def cam() -> Any:
            return self.device.status().camera

        if not wait_for(lambda: cam().state == "running" and cam().fps > 0, 30):
            return Outcome("camera: MJPEG source away and back", False, f"no frames before the outage: {cam()}")
        self.camera_server.stop()
        t_down, states, frames_down = time.monotonic(), [], None
        while time.monotonic() - t_down < self.outage:
            s = cam()
            if s.state != "running" and (not states or states[-1] != s.state):
                states.append(s.state)
            if frames_down is None and s.state.startswith("reconnecting"):
                frames_down = s.frames
            time.sleep(0.05)
        frames_end = cam().frames
        self.camera_server.start()
        t_up = time.monotonic()
        flowing = wait_for(lambda: cam().state == "running" and cam().frames > frames_end and time.monotonic(), 60,
                           step=0.02)
        s = cam()
        said = next((x for x in reversed(states) if x.startswith("reconnecting")), states[-1] if states else "-")
        still = frames_down is not None and frames_end == frames_down
        held = bool(flowing) and bool(states) and said.startswith("reconnecting") and s.reconnects >= 1
        back = f"{flowing - t_up:.1f} s after its restart" if flowing else "NOT within 60 s of its restart"
        return Outcome("camera: MJPEG source away and back", held,
                       f"away {self.outage:g} s: status camera.state {said!r}; no frame meanwhile: "
                       f"{'yes' if still else 'no'}; frames again {back} (reconnects {s.reconnects}, "
                       f"state {s.state!r}, fps {s.fps:g})")

    def camera_folder(self) -> Outcome:
        import cv2
        import numpy as np

        from simulator.camera.camera import Camera
        from simulator.camera.sources import open_source
        from simulator.errors import SourceError
        from simulator.profiles import load_profile

        folder = self.work / "images"
        folder.mkdir()
        (folder / "x.jpg").mkdir()  # a sub-folder with an image's name, sorted first
        (folder / "y.jpg").write_bytes(b"this is not a jpeg")  # an unreadable image, next
        for name, value in (("z1.png", 60), ("z2.jpg", 180)):
            cv2.imwrite(str(folder / name), np.full((48, 64, 3), value, np.uint8))
        camera = Camera(open_source(str(folder), image_fps=20), load_profile("host").camera, self.work / "frames")
        try:
            camera.start()
        except SourceError as exc:
            return Outcome("camera: folder with x.jpg/ and a bad image", False, f"start failed: {exc}")
        try:
            wait_for(lambda: camera.stats.frames >= 10, 20)
            s = camera.stats
        finally:
            camera.stop()
        held = s.frames >= 10 and s.skipped == 2 and s.reconnects == 0 and s.error is None
        return Outcome("camera: folder with x.jpg/ and a bad image", held,
                       f"skipped {s.skipped} of 4 entries; {s.frames} frames, reconnects {s.reconnects}, "
                       f"state {s.state!r}")

    # -- viewer ----------------------------------------------------------------------------------------------
    def viewer_requests(self) -> Outcome:
        port = self.http_port
        zero = http_get(port, "/api/messages?limit=0")[0]
        negative = http_get(port, "/api/messages?limit=-5")[0]
        foreign = http_get(port, "/api/status", host=f"attacker.example:{port}")[0]
        own = http_get(port, "/api/status", host=f"127.0.0.1:{port}")[0]
        held = (zero, negative, foreign, own) == (400, 400, 403, 200)
        return Outcome("viewer: bad limits, foreign Host", held,
                       f"limit=0 → {zero}, limit=-5 → {negative}, Host attacker.example → {foreign} "
                       f"(Host 127.0.0.1 → {own})")

    def viewer_big_messages(self) -> Outcome:
        import gc

        topic, size = f"deeplens/{self.device.thing_name}/big", 16 * MB
        rss0 = rss_mb(False)
        big = b"x" * size
        for _ in range(20):
            self.device.messages.add(topic, big)
        del big
        gc.collect()
        kept = rss_mb(False) - rss0
        times: list[float] = []
        done = threading.Event()

        def ask_status() -> None:
            while not done.is_set() or len(times) < 3:
                times.append(http_get(self.http_port, "/api/status")[2])

        asker = threading.Thread(target=ask_status, daemon=True)
        asker.start()
        try:
            code, body, took = http_get(self.http_port, "/api/messages?limit=500")
        finally:
            done.set()
            asker.join(60)
        msgs = json.loads(body).get("messages", []) if code == 200 else []
        bigs = [m for m in msgs if m["topic"] == topic]
        cut = sum(1 for m in bigs if m.get("truncated") and m.get("size") == size)
        bound = 500 * 17 * 1024  # 500 messages of at most 16 KiB kept each, with their JSON
        held = code == 200 and len(bigs) == 20 and cut == 20 and len(body) <= bound and max(times) < 2.0
        return Outcome("viewer: 20 × 16 MB messages, limit=500", held,
                       f"/api/messages {code}: {len(body) / MB:.2f} MB in {took:.2f} s, {cut} of {len(bigs)} big "
                       f"ones cut with size and sha256; /api/status meanwhile {len(times)}× in ≤ {max(times):.2f} s; "
                       f"message log +{kept:.0f} MB RSS")

    # -- broker ----------------------------------------------------------------------------------------------
    def broker_forgery(self) -> Outcome:
        thing = self.device.thing_name
        refused0, marker = self.stat("refused_acl"), b"forged-by-an-anonymous-client"
        closed = 0
        for i, topic in enumerate((f"$aws/things/{thing}/infer", f"deeplens/{thing}/status")):
            sock, accepted = raw_client(self.mqtt_port, f"forger-{i}")
            if accepted:
                sock.sendall(publish_packet(topic, marker))
                closed += closed_within(sock, 5)
            sock.close()
        time.sleep(1.0)
        forged = [m for m in self.device.messages.since(0, 500) if marker in m.payload]
        refused = self.delta("refused_acl", refused0)
        held = not forged and (refused == 2 if refused is not None else closed == 2)
        return Outcome("broker: anonymous publish as the device", held,
                       f"2 publishes (infer, status): refused {na(refused)}, connections closed {closed}; "
                       f"forged messages in device.messages: {len(forged)}")

    def broker_takeover(self) -> Outcome:
        link, thing = self.device.link, self.device.thing_name
        take0, disc0 = self.stat("takeovers"), link.disconnects
        prefix_sock, prefix_ok = raw_client(self.mqtt_port, f"{thing}-core")  # the id the core once had
        time.sleep(1.0)
        prefix_harm = link.disconnects != disc0 or not link.connected.is_set()
        prefix_sock.close()
        seq0, total0 = self.last_seq(), self.device.messages.total
        t0 = time.monotonic()
        intruder, accepted = raw_client(self.mqtt_port, link.client_id)  # the exact id: a session takeover
        off = wait_for(lambda: link.disconnects > disc0 and time.monotonic(), 10, step=0.01)
        back = wait_for(lambda: link.connected.is_set() and time.monotonic(), 30, step=0.01)
        total_back = self.device.messages.total
        flowing = wait_for(lambda: self.device.messages.total > total_back and time.monotonic(), 30, step=0.01)
        intruder_closed = closed_within(intruder, 5)
        intruder.close()
        seq_back = self.last_seq()
        time.sleep(2.0)
        code, body, _ = http_get(self.http_port, f"/api/messages?since={seq_back}&limit=500")
        feed = len(json.loads(body)["messages"]) if code == 200 else 0
        disc_after = link.disconnects
        time.sleep(2.0)
        settled = link.disconnects == disc_after and link.connected.is_set()
        numbers = self.ticker_numbers(seq0)
        lost = max(numbers) - min(numbers) + 1 - len(set(numbers)) if numbers else None
        takeovers = self.delta("takeovers", take0)
        held = (prefix_ok and not prefix_harm and bool(off) and bool(flowing) and feed > 0 and settled
                and self.device.messages.total > total0)
        when = f"{flowing - t0:.1f} s" if flowing else "NOT within 30 s"
        return Outcome("broker: client id of the core / takeover", held,
                       f"'{thing}-core' (the prefix): accepted {'yes' if prefix_ok else 'no'}, core undisturbed "
                       f"{'yes' if not prefix_harm else 'NO'}; exact id (accepted {'yes' if accepted else 'no'}): "
                       f"core link off {'yes' if off else 'no'}, back {f'{back - t0:.1f} s' if back else 'NO'}, "
                       f"feed again after {when}, /api/messages +{feed} in 2 s, intruder closed "
                       f"{'yes' if intruder_closed else 'no'}, no more disconnects {'yes' if settled else 'NO'}; "
                       f"messages lost {na(lost)}; takeovers counted {na(takeovers)}")

    def broker_oversize(self) -> Outcome:
        over0 = self.stat("oversize")
        sock, accepted = raw_client(self.mqtt_port, "oversize")
        if not accepted:
            sock.close()
            return Outcome("broker: PUBLISH announcing 268 MB", False, "its CONNECT was refused")
        sent = {"bytes": 0}

        def keep_sending() -> None:  # what a broker that buffers the announced length would have to hold
            chunk = b"y" * MB
            try:
                while sent["bytes"] < 256 * MB:
                    sock.sendall(chunk)
                    sent["bytes"] += len(chunk)
            except OSError:
                pass

        with PeakRss() as mem:
            t0 = time.monotonic()
            sock.sendall(b"\x30\xff\xff\xff\x7f" + text_field("topic"))  # remaining length 268,435,455
            sender = threading.Thread(target=keep_sending, daemon=True)
            sender.start()
            closed = closed_within(sock, 15)
            took = time.monotonic() - t0
            sock.close()
            sender.join(10)
            time.sleep(0.5)
        oversize = self.delta("oversize", over0)
        grew = mem.peak - mem.start
        held = closed and took < 5 and grew < 50 and mqtt_answers(self.mqtt_port)
        return Outcome("broker: PUBLISH announcing 268 MB", held,
                       f"socket closed {'after ' + format(took, '.3f') + ' s' if closed else 'NOT within 15 s'} "
                       f"({sent['bytes'] / MB:.0f} MB pushed meanwhile); RSS {mem.start:.0f} → {rss_mb():.0f} MB "
                       f"(peak +{grew:.0f} MB); oversize counted {na(oversize)}; MQTT answers after")

    def broker_silent_sockets(self, count: int = 1050) -> Outcome:
        full0, timeouts0 = self.stat("refused_full"), self.stat("timeouts")
        socks, kernel_refused, most = [], 0, {"open": 0}
        watching = threading.Event()

        def watch_open() -> None:  # the most sockets the broker held open at once
            while not watching.wait(0.1):
                most["open"] = max(most["open"], self.stat("connections") or 0)

        watcher = threading.Thread(target=watch_open, daemon=True)
        watcher.start()
        t0 = time.monotonic()
        for _ in range(count):
            try:
                socks.append(socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=10))
            except OSError:
                kernel_refused += 1
        opened_in = time.monotonic() - t0
        total0 = self.device.messages.total
        time.sleep(1.0)
        http_during = viewer_answers(self.http_port)
        mqtt_during = mqtt_answers(self.mqtt_port, timeout=2.0)
        flowing_during = self.device.messages.total > total0
        sel = selectors.DefaultSelector()
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        open_left, last_closed = len(socks), None
        deadline = time.monotonic() + 20
        while open_left and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                try:
                    data = key.fileobj.recv(4096)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    open_left -= 1
                    last_closed = time.monotonic() - t0
        sel.close()
        watching.set()
        watcher.join()
        for s in socks:
            s.close()
        time.sleep(0.5)
        mqtt_after, http_after = mqtt_answers(self.mqtt_port), viewer_answers(self.http_port)
        closed = len(socks) - open_left
        full, timeouts = self.delta("refused_full", full0), self.delta("timeouts", timeouts0)
        held = closed == len(socks) and http_during and flowing_during and mqtt_after and http_after
        return Outcome("broker: 1,050 silent sockets", held,
                       f"{len(socks):,} connected in {opened_in:.1f} s ({kernel_refused} failed), at most "
                       f"{most['open']:,} open in the broker at once: {closed:,} closed by the "
                       f"broker, the last {na(last_closed, '.1f')} s after the first ({na(full)} at once as over "
                       f"max_connections, {na(timeouts)} at the connect timeout); meanwhile: viewer "
                       f"{'answers' if http_during else 'DOES NOT answer'}, device feed "
                       f"{'flowing' if flowing_during else 'STOPPED'}, new MQTT client "
                       f"{'accepted' if mqtt_during else 'turned away'}; after: MQTT "
                       f"{'answers' if mqtt_after else 'DOES NOT answer'}, viewer "
                       f"{'answers' if http_after else 'DOES NOT answer'}")

    def broker_flood(self) -> list[Outcome]:
        stalled = []
        for qos in (0, 1):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", self.mqtt_port))
            sock.sendall(connect_packet(f"stalled-qos{qos}", keepalive=0) + subscribe_packet("#", qos, 1)
                         + subscribe_packet("$aws/things/+/infer", qos, 2))
            stalled.append(sock)  # never read from again
        time.sleep(0.5)
        names = ("received", "qos0_dropped", "slow_consumer_disconnects", "queued_dropped")
        before = {n: self.stat(n) for n in names}
        records0, warnings0 = self.logs.records, self.logs.warnings
        seq0, total0 = self.last_seq(), self.device.messages.total
        out: Any = mp.get_context("spawn").Queue()
        child = mp.get_context("spawn").Process(target=flood_client, args=(self.mqtt_port, self.flood_seconds, out))
        result: dict[str, Any] | None = None
        routed_at_end: int | None = None
        with PeakRss(0.25) as mem:
            child.start()
            deadline = time.monotonic() + self.flood_seconds + 240
            while result is None and time.monotonic() < deadline and (child.is_alive() or not out.empty()):
                try:
                    got = out.get(timeout=0.5)
                except Exception:  # noqa: BLE001 - queue.Empty: keep sampling memory
                    continue
                if isinstance(got, tuple):  # the flooder stopped sending: how much of it was routed by now?
                    routed_at_end = self.delta("received", before["received"])
                else:
                    result = got
        child.join(10)
        if child.is_alive():
            child.kill()
        records, warnings = self.logs.records - records0, self.logs.warnings - warnings0
        feed = self.device.messages.total - total0
        numbers = self.ticker_numbers(seq0)
        lost = max(numbers) - min(numbers) + 1 - len(set(numbers)) if numbers else None
        gone = [closed_within(s, 3) for s in stalled]
        for s in stalled:
            s.close()
        d = {n: self.delta(n, before[n]) for n in names}
        logs = Outcome("broker: log records during the flood", records <= 20,
                       f"{records} records ({warnings} warnings or worse) in {self.flood_seconds:g} s of flood")
        if result is None or result["error"]:
            why = result["error"] if result else "the flooding child gave no result"
            return [Outcome("broker: QoS 1 flood, stalled subscribers", False, why), logs]
        expected = (result["acked"] + 1) // 2
        grew = mem.peak - mem.start
        # taken from the flooder but not yet routed: bounded by the broker's incoming limit and the socket buffers
        backlog = result["sent"] - routed_at_end if routed_at_end is not None else None
        held = (result["acked"] == result["sent"] and result["healthy"] > 0 and grew < 100 and feed > 0
                and lost == 0 and (backlog is None or backlog <= BACKLOG_BOUND))
        flood = Outcome("broker: QoS 1 flood, stalled subscribers", held,
                        f"{result['sent']:,} sent in {self.flood_seconds:g} s (the broker's received counter at "
                        f"the end of the sending: {na(routed_at_end)}, {na(backlog)} behind), {result['acked']:,} "
                        f"acknowledged, the last "
                        f"{result['ack_lag']:.1f} s after; "
                        f"healthy subscriber got {result['healthy']:,} of {expected:,} "
                        f"(disconnected {result['healthy_disconnects']}×); stalled QoS 0 "
                        f"{'disconnected' if gone[0] else 'still connected'}, QoS 1 "
                        f"{'disconnected' if gone[1] else 'still connected'} (slow-consumer disconnects "
                        f"{na(d['slow_consumer_disconnects'])}, QoS 0 dropped {na(d['qos0_dropped'])}); "
                        f"RSS {mem.start:.0f} → peak {mem.peak:.0f} MB (+{grew:.0f}); device feed meanwhile "
                        f"+{feed:,}, lost {na(lost)}")
        return [flood, logs]

    # -- supervisor ------------------------------------------------------------------------------------------
    def project(self, name: str, lambda_file: Path, **fields: Any) -> Path:
        """A project folder: a copy of ``lambda_file`` and a project.yaml with ``fields``."""
        import yaml

        folder = self.work / f"project-{name}"
        folder.mkdir()
        shutil.copy(lambda_file, folder / lambda_file.name)
        spec = {"name": name, "lambda": lambda_file.name, **fields}
        (folder / "project.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
        return folder

    def lambda_hangs(self) -> Outcome:
        self.rec.clear()
        self.device.deploy(self.project("hangs", MISBEHAVING / "hangs.py", watchdog_seconds=5))
        stopped = wait_for(lambda: self.rec.line_with("stopped working after"), 60)
        hung = wait_for(lambda: self.rec.event_of("hung"), 60)
        restarted = wait_for(lambda: hung and self.rec.event_of("started", after=hung[0]), 30)
        status = self.device.status().lambda_
        if not (stopped and hung and restarted):
            return Outcome("supervisor: hung Lambda (watchdog 5 s)", False,
                           f"stopped working seen: {bool(stopped)}, hung reported: {bool(hung)}, restarted: "
                           f"{bool(restarted)}; status {status}")
        detect, restart = hung[0] - stopped[0], restarted[0] - hung[0]
        old_gone = wait_for(lambda: not alive(hung[1].pid), 5) if hung[1].pid else True
        held = detect < 5 + 3 and restart < 10 and bool(old_gone) and status.hung >= 1
        return Outcome("supervisor: hung Lambda (watchdog 5 s)", held,
                       f"hung reported {detect:.1f} s after its last progress (idle {hung[1].idle_seconds:g} s), "
                       f"restarted {restart:.1f} s later; the spinning process gone: {'yes' if old_gone else 'NO'}; "
                       f"status hung={status.hung}")

    def lambda_leaks(self, in_child: bool) -> Outcome:
        name = "leaks in a child" if in_child else "leaks"
        self.rec.clear()
        folder = self.project("leaks-child" if in_child else "leaks", MISBEHAVING / "leaks.py", memory_limit_mb=300,
                              env={"LEAK_IN_CHILD": "1" if in_child else "0"})
        t0 = time.monotonic()
        self.device.deploy(folder)
        peak = 0.0

        def killed() -> Any:
            nonlocal peak
            lam = self.device.status().lambda_
            peak = max(peak, (lam.memory_mb or 0.0) if lam else 0.0)
            return self.rec.event_of("killed")

        got = wait_for(killed, 60)
        lam = self.device.status().lambda_
        if not got:
            return Outcome(f"supervisor: Lambda that {name} (limit 300 MB)", False,
                           f"not killed within 60 s; memory seen up to {peak:.0f} MB")
        ev = got[1]
        child_line = self.rec.line_with("leaking in child")
        pids = [ev.pid] if ev.pid else []
        if child_line:
            pids.append(int(child_line[1].split()[-1]))
        gone = wait_for(lambda: not any(alive(p) for p in pids), 5) if pids else True
        at_kill = ev.memory_mb if ev.memory_mb is not None else peak
        held = bool(gone) and at_kill < 2 * 300
        return Outcome(f"supervisor: Lambda that {name} (limit 300 MB)", held,
                       f"killed at {na(ev.memory_mb, '.0f')} MB ({lam.memory_limit_by} polling; highest status "
                       f"reading {peak:.0f} MB), {got[0] - t0:.1f} s after deploying; its processes gone: "
                       f"{'yes' if gone else 'NO'}; killed={lam.killed}")

    def lambda_spawns(self) -> Outcome:
        self.rec.clear()
        pids_dir = self.work / "pids"
        pids_dir.mkdir()
        self.device.deploy(self.project("spawns", MISBEHAVING / "spawns.py", env={"PIDS_DIR": str(pids_dir)}))
        if not wait_for(lambda: (pids_dir / "0.pids").exists(), 60):
            return Outcome("supervisor: Lambda that spawns orphans", False, "its first run wrote no pids")
        first = [int(p) for p in (pids_dir / "0.pids").read_text().split()]
        started = list(first[1:])
        def grandchildren() -> list[int]:  # the setsid grandchild (it may take a moment to appear)
            try:
                return [c.pid for c in psutil.Process(first[3]).children()]
            except psutil.Error:
                return []

        started += wait_for(grandchildren, 3) or []
        if not wait_for(lambda: (pids_dir / "1.pids").exists(), 60):
            return Outcome("supervisor: Lambda that spawns orphans", False, "it was not restarted after its crash")
        second = [int(p) for p in (pids_dir / "1.pids").read_text().split()]
        try:
            run2 = psutil.Process(second[0]).environ().get(MARKER_VARIABLE, "")
        except psutil.Error:
            run2 = ""
        mine = f"{os.getpid()}."
        left_restart = {p for p in started if alive(p)} | {
            p.pid for p in marked(mine) if run2 and p.environ().get(MARKER_VARIABLE) != run2}
        ended = self.device.status().lambda_.orphans_ended
        self.device.undeploy()
        left_stop = marked(mine)
        held = not left_restart and not left_stop
        return Outcome("supervisor: Lambda that spawns orphans", held,
                       f"its crashed run left {len(started)} processes (2 in its group, a setsid grandchild, a "
                       f"double-forked daemon): {len(left_restart)} alive after the restart, {len(left_stop)} after "
                       f"undeploying (marker scan); orphans ended by the supervisor before the stop: {ended}")

    def lambda_floods(self) -> Outcome:
        self.rec.clear()
        lines, long_line = 200_000, 50_000_000
        folder = self.project("floods", MISBEHAVING / "floods.py",
                              env={"LINES": str(lines), "LONG_LINE": str(long_line)})
        with PeakRss(children=False) as mem:  # the core's own memory (the Lambda holds its 50 MB line itself)
            t0 = time.monotonic()
            self.device.deploy(folder)
            over = wait_for(lambda: self.rec.line_with("flood over"), 120)
            lam = self.device.status().lambda_
        self.device.undeploy()
        if not over:
            return Outcome("supervisor: Lambda that floods its output", False, "'flood over' never arrived")
        texts = self.rec.texts()
        shown = sum(1 for t in texts if re.fullmatch(r"line \d+", t))
        cut = [t for t in texts if t.endswith("bytes cut]")]
        grew = mem.peak - mem.start
        held = shown + lam.lines_dropped == lines and lam.lines_cut >= 1 and grew < 50
        return Outcome("supervisor: Lambda that floods its output", held,
                       f"{lines:,} lines + a {long_line / 1e6:.0f} MB line in {over[0] - t0:.1f} s: shown {shown:,}, "
                       f"dropped {lam.lines_dropped:,} (sum {shown + lam.lines_dropped:,}), cut {lam.lines_cut} "
                       f"(shown as {len(cut[0]) if cut else 0:,} characters); core RSS {mem.start:.0f} → peak "
                       f"{mem.peak:.0f} MB (+{grew:.0f})")


# -- running it -----------------------------------------------------------------------------------------------------

def report(outcome: Outcome) -> Outcome:
    print(f"{'held' if outcome.held else 'NOT held':<8}  {outcome.fault:<46} {outcome.figure}", flush=True)
    return outcome


def attempt(name: str, fn: Callable[[], Outcome | list[Outcome]]) -> list[Outcome]:
    """Run one fault; one that could not be measured is NOT held, with the error as its figure."""
    try:
        got = fn()
    except Exception as exc:  # noqa: BLE001 - the other faults still run; the traceback goes to stderr
        traceback.print_exc()
        got = Outcome(name, False, f"could not be measured: {type(exc).__name__}: {exc}")
    return [report(o) for o in (got if isinstance(got, list) else [got])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 3 s camera outage and a 5 s flood")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deeplens-faults-"))
    os.environ["DEEPLENS_SIM_HOME"] = str(work / "home")  # thing name, shadows, artifacts: not the user's
    os.environ.setdefault("DEEPLENS_SIM_PRECISION", "f32")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # the camera's reconnect attempts are counted, not printed
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg quiet: its "connection refused" lines too
    bench = Bench(work, args.quick)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    log_file = logging.FileHandler(work.parent / f"{work.name}.log")
    log_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(log_file)
    root.addHandler(bench.logs)
    print(f"field faults against one simulated device{' (--quick)' if args.quick else ''}; "
          f"{os.cpu_count()} cores; load average at start {os.getloadavg()}", flush=True)
    print(f"log of the run: {log_file.baseFilename}", flush=True)
    outcomes: list[Outcome] = []
    t0 = time.monotonic()
    try:
        outcomes += attempt("files: symlink planted where a slot goes", bench.planted_symlink)
        bench.plant_stale_run_folder()
        bench.start()
        print(f"broker: {bench.device.broker.stats().impl} on port {bench.mqtt_port}; viewer on port "
              f"{bench.http_port}; source {bench.camera_server.url}", flush=True)
        outcomes += attempt("files: stale run folder of a dead pid", bench.stale_run_folder)
        outcomes += attempt("camera: MJPEG source away and back", bench.camera_outage)
        outcomes += attempt("camera: folder with x.jpg/ and a bad image", bench.camera_folder)
        outcomes += attempt("viewer: bad limits, foreign Host", bench.viewer_requests)
        outcomes += attempt("viewer: 20 × 16 MB messages, limit=500", bench.viewer_big_messages)
        outcomes += attempt("broker: anonymous publish as the device", bench.broker_forgery)
        outcomes += attempt("broker: client id of the core / takeover", bench.broker_takeover)
        outcomes += attempt("broker: PUBLISH announcing 268 MB", bench.broker_oversize)
        outcomes += attempt("broker: 1,050 silent sockets", bench.broker_silent_sockets)
        outcomes += attempt("broker: QoS 1 flood, stalled subscribers", bench.broker_flood)
        outcomes += attempt("supervisor: hung Lambda (watchdog 5 s)", bench.lambda_hangs)
        outcomes += attempt("supervisor: Lambda that leaks (limit 300 MB)", lambda: bench.lambda_leaks(False))
        outcomes += attempt("supervisor: Lambda that leaks in a child", lambda: bench.lambda_leaks(True))
        outcomes += attempt("supervisor: Lambda that spawns orphans", bench.lambda_spawns)
        outcomes += attempt("supervisor: Lambda that floods its output", bench.lambda_floods)
    finally:
        bench.stop()
        left = marked(f"{os.getpid()}.")
        for proc in left:  # nothing of this run may outlive it, whatever the simulator did
            try:
                proc.kill()
            except psutil.Error:
                pass
        shutil.rmtree(work, ignore_errors=True)
    held = sum(o.held for o in outcomes)
    print(f"{held} of {len(outcomes)} held in {time.monotonic() - t0:.0f} s; Lambda processes left after the "
          f"device stopped: {len(left)}; load average at end {os.getloadavg()}", flush=True)
    return 0 if held == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
