"""A live source's CPU cost with a slow reader: frames nobody reads are taken off the stream and not decoded.

    python bench/live_decode.py [--size 1920x1080] [--fps 30] [--read-fps 5] [--seconds 10] [--rounds 3]

Method. A child process serves an MJPEG-over-HTTP stream (as a network camera or a webcam in MJPEG mode delivers
it): frames of the demo clip at ``--size``, JPEG-encoded once beforehand and sent in a loop at ``--fps``. In this
process the simulator's Camera reads the stream (StreamSource, OpenCV's FFmpeg backend) into the frame slot, and a
reader takes a frame ``--read-fps`` times a second the way awscam.getLastFrame does. Two conditions alternate, a
round each, in one run: "decode on demand" (the camera tells the source's reader thread which frames will be
read: the others are grabbed, not decoded) and "decode every frame" (the source is given no such hint, as before).
Printed per round: this process's CPU seconds per second (the server's process is not counted), frames taken,
frames decoded and frames read; then the median CPU ratio on demand / every frame. os.getloadavg() is printed
before and after.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BOUNDARY = "frame"


def serve(size: tuple[int, int], fps: float, port_out) -> None:
    """Child process: the demo clip's first 60 frames at ``size`` as an endless MJPEG stream."""
    from simulator.camera.democlip import ensure_demo_clip

    cap, jpegs = cv2.VideoCapture(str(ensure_demo_clip())), []
    while len(jpegs) < 60:
        ok, frame = cap.read()
        if not ok:
            break
        jpegs.append(cv2.imencode(".jpg", cv2.resize(frame, size), [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    cap.release()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.end_headers()
            start, n = time.monotonic(), 0
            try:
                while True:
                    jpeg = jpegs[n % len(jpegs)]
                    self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}"
                                     "\r\n\r\n".encode() + jpeg + b"\r\n")
                    n += 1
                    time.sleep(max(0.0, start + n / fps - time.monotonic()))
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever()


def one_round(url: str, on_demand: bool, read_fps: float, seconds: float, folder: Path) -> dict[str, float]:
    from simulator.camera.camera import Camera
    from simulator.camera.capture import StreamSource
    from simulator.ipc.frames import FrameSlot
    from simulator.profiles import load_profile

    counts = {"grabbed": 0, "decoded": 0, "read": 0}

    class Counted(StreamSource):
        def _connect(self):
            device = super()._connect()
            grab, retrieve, read = device.grab, device.retrieve, device.read

            def counted_grab() -> bool:
                counts["grabbed"] += 1
                return grab()

            def counted_retrieve():
                counts["decoded"] += 1
                return retrieve()

            def counted_read():
                counts["grabbed"] += 1
                counts["decoded"] += 1
                return read()
            device.grab, device.retrieve, device.read = counted_grab, counted_retrieve, counted_read  # type: ignore
            return device

        def offer(self, want) -> None:
            super().offer(want if on_demand else None)

    camera = Camera(Counted(url), load_profile("host").camera, folder / f"frames-{on_demand}-{time.monotonic_ns()}")
    camera.start()
    try:
        reader = FrameSlot.attach(camera.slot_path)
        time.sleep(1.0)
        counts.update(grabbed=0, decoded=0)
        cpu0, t0, seen = time.process_time(), time.monotonic(), None
        while time.monotonic() - t0 < seconds:
            frame = reader.read(seen=seen, wait=1.0)
            if frame is not None and frame.index != seen:
                counts["read"] += 1
                seen = frame.index
            time.sleep(max(0.0, 1.0 / read_fps - 0.001))
        elapsed = time.monotonic() - t0
        cpu = (time.process_time() - cpu0) / elapsed
        reader.close()
    finally:
        camera.stop()
    return {"cpu": cpu, **{k: v / elapsed for k, v in counts.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--read-fps", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    ports: mp.Queue = mp.get_context("spawn").Queue()
    server = mp.get_context("spawn").Process(target=serve, args=((w, h), args.fps, ports), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=120)}/stream.mjpeg"
    print(f"cores: {os.cpu_count()}; {w}x{h} MJPEG at {args.fps:g} fps, read {args.read_fps:g} times a second; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'round':>5} {'condition':>20} {'CPU s/s':>8} {'taken/s':>8} {'decoded/s':>9} {'read/s':>7}")
    ratios = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                got = {}
                for on_demand in ((True, False) if r % 2 == 0 else (False, True)):
                    got[on_demand] = one_round(url, on_demand, args.read_fps, args.seconds, Path(tmp))
                    g = got[on_demand]
                    name = "decode on demand" if on_demand else "decode every frame"
                    print(f"{r + 1:>5} {name:>20} {g['cpu']:8.3f} {g['grabbed']:8.1f} {g['decoded']:9.1f} "
                          f"{g['read']:7.1f}", flush=True)
                ratios.append(got[True]["cpu"] / got[False]["cpu"])
    finally:
        server.terminate()
        server.join(5)
    print(f"\nCPU of the camera's process, on demand / every frame: median {statistics.median(ratios):.3f} "
          f"(rounds {', '.join(f'{x:.3f}' for x in ratios)}); load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
