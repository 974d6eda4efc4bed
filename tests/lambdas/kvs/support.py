"""What the Kinesis Video tests share: a camera feeding a real frame slot, a device context, a Lambda process
started as the host starts it, and a probe that decodes a segment back."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from simulator.ipc import context
from simulator.ipc.frames import FrameSlot

ROOT = Path(__file__).resolve().parents[3]
LAMBDA = Path(__file__).resolve().parent / "lambda_function.py"
LAUNCH = Path(__file__).resolve().parent / "launch.py"


class Camera:
    """Writes frames of ``size`` into a real shared-memory frame slot at ``fps`` until stopped: a grey field
    with a white bar that moves, and the frame number."""

    def __init__(self, run_dir: Path, size: tuple[int, int] = (640, 360), fps: float = 30.0) -> None:
        self.size, self.fps = size, fps
        self.slot = FrameSlot.create(run_dir / context.FRAMES_FILE, size[0], size[1])
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-camera", daemon=True)

    def start(self) -> Camera:
        self._thread.start()
        return self

    def _run(self) -> None:
        w, h = self.size
        base = np.full((h, w, 3), 90, np.uint8)
        base[:, :, 1] = np.linspace(40, 200, w, dtype=np.uint8)[None, :]
        while not self._stop.is_set():
            image = base.copy()
            x = (self.written * 7) % max(1, w - w // 10)
            image[:, x:x + w // 10] = 255
            cv2.putText(image, str(self.written), (10, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 255), 3)
            self.slot.write(image)
            self.written += 1
            self._stop.wait(1.0 / self.fps)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self.slot.close()


def device_context(run_dir: Path, artifacts: Path, mqtt_port: int = 1, lambda_file: Path | None = None):
    return context.DeviceContext(thing_name="deeplens_kvs_test", run_dir=run_dir, mqtt_port=mqtt_port,
                                 artifacts=artifacts, shadows=run_dir / "shadows", lambda_file=lambda_file)


@dataclass(frozen=True)
class Probe:
    codec: str
    width: int
    height: int
    frames: int
    seconds: list[float]  # each decoded frame's timestamp


def probe(path: Path) -> Probe:
    """Decode every frame of an MP4 file with PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, width, height = stream.codec_context.name, stream.width, stream.height
        seconds = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    return Probe(codec, width, height, len(seconds), seconds)


class LambdaProcess:
    """``tests/lambdas/kvs/lambda_function.py`` in its own process, started the way the supervisor starts
    ``python -m simulator.runtime.host`` (with the device context in its environment)."""

    def __init__(self, ctx, env: dict[str, str], log_dir: Path) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        environ.update(env)
        environ.update(ctx.env())
        environ["PYTHONPATH"] = str(ROOT)
        self.out = log_dir / "lambda.out"
        self.err = log_dir / "lambda.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, str(LAUNCH)], cwd=ROOT, env=environ, stdout=out,
                                         stderr=err, stdin=subprocess.DEVNULL)

    def log(self) -> str:
        return self.err.read_text(errors="replace") + self.out.read_text(errors="replace")

    def wait_until(self, predicate, timeout: float = 30.0, what: str = "the condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.poll() is not None:
                raise AssertionError(f"the Lambda process ended ({self.proc.returncode}) before {what}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not happen within {timeout} s:\n{self.log()}")
            time.sleep(0.1)

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
