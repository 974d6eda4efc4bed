"""Where a 4 MP frame's time goes: the simulator's spine stage by stage, beside the plain OpenCV + OpenVINO loop.

Method.
  1. One frame, stage by stage: each stage of a sample's loop run alone in this process, ``--frames`` times on
     real 4 MP frames (2688x1520) of a clip made from the demo clip; the median ms is printed. The simulator's
     stages run its real pieces: the camera's source decoding into the frame slot (and, for a 720p source, the
     fit to 4 MP into it), awscam's getLastFrame / Model.doInference / parseResult (in a device context of this
     process), the sample's drawing calls on the frame getLastFrame returned, the sample's
     LocalDisplay.set_frame_data, the project-stream writer, greengrasssdk publish to the embedded broker.
     The plain loop's stages are bench/spine_fps.py's.
  2. In the running system: the unmodified sample in a SimulatedDevice (host profile, the clip at 30 fps) and the
     plain loop in a process of its own, one after the other for ``--seconds`` each; the CPU time of every thread
     (from /proc) per inference, and the rates. Threads of the core are named by Python; of the Lambda process,
     "main" is its loop (OpenVINO's first inference thread too), the rest are numbered by CPU.
os.getloadavg() is printed before and after: other work on the machine disturbs the figures.

Usage: python bench/stages.py [--sample object_detection|hotdog] [--frames 40] [--seconds 10] [--part 1,2]
                             [--every-frame]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spine_fps import PLAIN, PlainClip, PlainStages, loadavg, make_clip, start_device  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INPUT = {"object_detection": (300, 300), "hotdog": (224, 224)}
KIND = {"object_detection": "ssd", "hotdog": "classification"}
MODEL_FILE = {"object_detection": "/opt/awscam/artifacts/mxnet_deploy_ssd_resnet50_300_FP16_FUSED.xml",
              "hotdog": "/opt/awscam/artifacts/mxnet_squeezenet.xml"}


def median_ms(fn: Callable[[], object], n: int, pause: float = 0.0) -> float:
    times = []
    for _ in range(n):
        if pause:
            time.sleep(pause)
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float | None, float | None]] = []

    def add(self, stage: str, where: str, sim: float | None, plain: float | None) -> None:
        self.rows.append((stage, where, sim, plain))

    def print(self) -> None:
        f = lambda v: f"{v:9.2f}" if v is not None else f"{'-':>9}"  # noqa: E731
        print(f"{'stage':<52} {'runs on (simulator)':<24} {'simulator':>9} {'plain':>9}")
        for stage, where, sim, plain in self.rows:
            print(f"{stage:<52} {where:<24} {f(sim)} {f(plain)}")
        total = lambda i: sum(r[i] for r in self.rows if r[i] is not None and not r[0].startswith("("))  # noqa: E731
        print(f"{'total (ms per frame)':<52} {'':<24} {total(2):9.2f} {total(3):9.2f}")


def _load_local_display(sample: str):
    path = ROOT / "projects" / sample / "local_display.py"
    spec = importlib.util.spec_from_file_location(f"{sample}_local_display", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.LocalDisplay


def stage_table(sample: str, clip: Path, n: int) -> Table:
    """Part 1: one frame, stage by stage."""
    import cv2

    from simulator.camera.camera import fit_to_format
    from simulator.camera.sources import open_source
    from simulator.config import RunConfig
    from simulator.core import SimulatedDevice
    from simulator.ipc.context import ENV_CONTEXT, DeviceContext
    from simulator.ipc.frames import FrameSlot
    from simulator.ipc.project_stream import ProjectStreamWriter
    from simulator.ipc.run_folder import RunFolder
    from simulator.ipc.slot import SharedSlot
    from simulator.ipc.stats import StatsReader

    table = Table()
    plain: PlainStages = PLAIN[sample]()
    with contextlib.ExitStack() as stack:
        # the broker (and the Lambda's credentials on it) of a device that runs no Lambda, on a tiny test pattern
        device = SimulatedDevice(RunConfig(project="", source="pattern:64x48@5", profile="host", mqtt_port=0,
                                           http_port=0, thumbnail=False)).start()
        stack.callback(device.stop)
        folder = RunFolder.create()
        stack.callback(folder.remove)
        source = open_source(str(clip))
        source.open()
        stack.callback(source.close)
        pclip = PlainClip(clip)
        stack.callback(pclip.close)
        frame0 = source.read()
        h, w = frame0.shape[:2]
        slot = stack.enter_context(FrameSlot.create(folder.frames, w, h))
        project = stack.enter_context(SharedSlot.create(folder.project_stream, 16 * 1024 * 1024))
        stack.enter_context(StatsReader.create(folder.stats))
        user, password = device.lambda_credentials or (None, None)
        ctx = DeviceContext(thing_name=device.thing_name, run_dir=folder.path, mqtt_host=device.connect_host,
                            mqtt_port=device.mqtt_port, mqtt_username=user, mqtt_password=password,
                            artifacts=device.artifacts, profile="host", shadows=folder.path / "shadows")
        os.environ[ENV_CONTEXT] = ctx.model_dump_json()
        from simulator.device import awscam, greengrasssdk

        # the camera decodes a file's frame straight into the slot's free buffer (no copy into the slot)
        table.add("camera: decode a frame (into the slot)", "camera thread",
                  median_ms(lambda: slot.write_with(lambda view: source.read_into(view) is view, (h, w, 3)), n),
                  median_ms(pclip.read, n))
        frame = source.read()
        out = np.empty_like(frame)
        small = cv2.resize(frame, (1280, 720))
        table.add("(a 720p source: fit to 4 MP into the slot)", "camera thread",
                  median_ms(lambda: fit_to_format(small, w, h, out=out), n), None)
        def next_frame_ms(copies: bool) -> float:
            """getLastFrame of a new frame each time (the camera's write not timed); ``copies``: a viewer reads."""
            times = []
            for _ in range(n):
                slot.write_with(lambda view: source.read_into(view) is view, (h, w, 3))
                if copies:
                    slot.note_copied_read()
                t0 = time.perf_counter()
                ok, got = awscam.getLastFrame()
                times.append((time.perf_counter() - t0) * 1e3)
                del got
            return statistics.median(times)
        table.add("getLastFrame (the slot's buffer, leased)", "Lambda main", next_frame_ms(False), None)
        table.add("(getLastFrame while a viewer reads: a copy)", "Lambda main", next_frame_ms(True), None)
        ok, got = awscam.getLastFrame()
        assert ok and got.shape == frame.shape
        size = INPUT[sample]
        table.add("resize to the model input (the sample)", "Lambda main",
                  median_ms(lambda: cv2.resize(got, size), n), None)
        small = cv2.resize(got, size)
        model = awscam.Model(MODEL_FILE[sample], {"GPU": 1})
        for _ in range(3):
            model.doInference(small)
        table.add("(doInference, whole: the next three rows)", "Lambda main + OpenVINO",
                  median_ms(lambda: model.doInference(small), n), None)
        sub = model._model  # the substitute behind the device model: its three steps
        tensor = sub._prepare(small)
        plain_tensor = plain.resize(frame)
        table.add("doInference: prepare / plain: resize, BGR->RGB", "Lambda main",
                  median_ms(lambda: sub._prepare(small), n), median_ms(lambda: plain.resize(frame), n))
        table.add("doInference: OpenVINO", "OpenVINO threads", median_ms(lambda: sub.run(tensor), n),
                  median_ms(lambda: plain.infer(plain_tensor), n))
        outputs = sub.run(tensor)
        plain_out = [np.array(o) for o in plain.infer(plain_tensor)]
        table.add("doInference: outputs as the device model's", "Lambda main",
                  median_ms(lambda: sub._answer(outputs), n), median_ms(lambda: plain.decode(plain_out), n))
        raw = model.doInference(small)
        table.add("parseResult", "Lambda main", median_ms(lambda: model.parseResult(KIND[sample], raw), n), None)
        found = plain.decode(plain_out)
        table.add("drawing (on the frame getLastFrame returned)", "Lambda main",
                  median_ms(lambda: plain.draw(got, found), n), median_ms(lambda: plain.draw(frame, found), n))
        display = _load_local_display(sample)("480p")
        table.add("JPEG encode (LocalDisplay.set_frame_data)", "Lambda main",
                  median_ms(lambda: display.set_frame_data(got), n), median_ms(lambda: PlainStages.encode(frame), n))
        writer = ProjectStreamWriter(project)
        jpeg = display.frame.tobytes()
        jpegs = [jpeg, jpeg[:-2] + b"\x00\xff\xd9"]  # two different frames, so each write is published
        k = iter(range(10**9))
        table.add("project stream write (one JPEG, /tmp/results.mjpeg)", "Lambda display thread",
                  median_ms(lambda: writer.write(jpegs[next(k) % 2]), n, pause=1 / 50), None)
        client = greengrasssdk.client("iot-data")
        topic = f"$aws/things/{device.thing_name}/infer"
        client.publish(topic=topic, payload="{}")
        result = plain.draw(got, found)
        table.add("json + publish", "Lambda main",
                  median_ms(lambda: client.publish(topic=topic, payload=json.dumps(result)), n, pause=1 / 50),
                  median_ms(lambda: json.dumps(result), n))
        return table


# --- part 2: CPU per inference in the running system --------------------------------------------------------

def _thread_times(procs: dict[int, str]) -> dict[tuple[int, int], tuple[str, str, float]]:
    """(pid, tid) -> (process label, thread label, CPU seconds)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out = {}
    for pid, label in procs.items():
        try:
            threads = psutil.Process(pid).threads()
        except psutil.Error:
            continue
        for t in threads:
            try:
                comm = Path(f"/proc/{pid}/task/{t.id}/comm").read_text().strip()
            except OSError:
                comm = "?"
            if pid == os.getpid():
                name = names.get(t.id) or comm
            else:
                name = "main" if t.id == pid else (comm if comm != "python" else "")
            out[(pid, t.id)] = (label, name, t.user_time + t.system_time)
    return out


def _cpu_per_inference(procs: dict[int, str], seconds: float, count: Callable[[], int]) -> tuple[float, list]:
    s0, n0, t0 = _thread_times(procs), count(), time.perf_counter()
    time.sleep(seconds)
    s1, n1, t1 = _thread_times(procs), count(), time.perf_counter()
    n = max(1, n1 - n0)
    rows = []
    for key, (label, name, cpu) in s1.items():
        spent = cpu - (s0[key][2] if key in s0 else 0.0)
        rows.append((label, name, key[1], spent * 1e3 / n))
    rows.sort(key=lambda r: -r[3])
    return n / (t1 - t0), rows


def _print_cpu(title: str, rate: float, rows: list) -> float:
    print(f"\n{title}: {rate:.2f} inferences/s")
    unnamed: dict[str, int] = {}
    total = 0.0
    for label, name, _tid, ms in rows:
        total += ms
        if ms < 0.3:
            continue
        if not name:
            unnamed[label] = unnamed.get(label, 0) + 1
            name = f"thread {unnamed[label]}"
        print(f"  {label:<10} {name[:40]:<40} {ms:8.2f} ms CPU per inference")
    print(f"  {'total':<51} {total:8.2f} ms CPU per inference ({total * rate / 10:.0f} % of one core)")
    return total


def _plain_child(sample: str, clip: str, seconds: float, counter) -> None:
    stages, source = PLAIN[sample](), PlainClip(Path(clip))
    stages.step(source.read())
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        stages.step(source.read())
        with counter.get_lock():
            counter.value += 1


def running_system(sample: str, clip: Path, seconds: float, every_frame: bool = False) -> None:
    """Part 2: CPU time of every thread per inference, the simulator then the plain loop."""
    device = start_device(sample, clip, every_frame)
    try:
        time.sleep(1.0)
        procs = {os.getpid(): "core"}
        for child in psutil.Process().children(recursive=True):
            cmd = " ".join(child.cmdline())
            procs[child.pid] = "Lambda" if "runtime.host" in cmd else "broker" if "broker" in cmd else child.name()
        rate, rows = _cpu_per_inference(procs, seconds, lambda: int(device.lambda_stats().get("inferences", 0)))
    finally:
        device.stop()
    mode = "--every-frame" if every_frame else "camera at the clip's 30 fps"
    sim_total = _print_cpu(f"simulator ({sample}, host profile, {mode})", rate, rows)
    ctx = mp.get_context("spawn")
    counter = ctx.Value("l", 0)
    child = ctx.Process(target=_plain_child, args=(sample, str(clip), seconds + 30, counter), daemon=True)
    child.start()
    try:
        while counter.value < 3:
            time.sleep(0.1)
        rate, rows = _cpu_per_inference({child.pid: "plain"}, seconds, lambda: counter.value)
    finally:
        child.terminate()
        child.join(5)
    plain_total = _print_cpu("plain OpenCV + OpenVINO loop", rate, rows)
    print(f"\nCPU per inference, simulator / plain: {sim_total / plain_total:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", default="object_detection", choices=sorted(PLAIN))
    ap.add_argument("--frames", type=int, default=40, help="part 1: frames per stage")
    ap.add_argument("--seconds", type=float, default=10, help="part 2: seconds measured per side")
    ap.add_argument("--part", default="1,2")
    ap.add_argument("--clip", type=Path, help="a 4 MP clip (default: made from the demo clip)")
    ap.add_argument("--every-frame", action="store_true", help="part 2: run the simulator with --every-frame")
    args = ap.parse_args()
    parts = set(args.part.replace(",", " ").split())
    print(f"cores: {os.cpu_count()}; precision hint: {os.environ.get('DEEPLENS_SIM_PRECISION') or 'default'}; "
          f"before: {loadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or make_clip(Path(tmp) / "clip4mp.mp4")
        if "1" in parts:
            print(f"\n1. one 4 MP frame, stage by stage ({args.sample}; median of {args.frames}; ms)")
            stage_table(args.sample, clip, args.frames).print()
        if "2" in parts:
            print(f"\n2. in the running system ({args.seconds:g} s each)")
            running_system(args.sample, clip, args.seconds, args.every_frame)
    print(f"\nafter: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
