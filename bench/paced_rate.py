"""Does a paced profile deliver its predicted rate, on an idle host and on a busy one? (within 5 %, or says so)

    python bench/paced_rate.py [--profile raspberry-pi-4] [--seconds 20] [--project NAME] [--loads idle,busy]
    python bench/paced_rate.py --direct [--model NAME|PATH]     # only Pacer + OpenVINO, no device

Method, end to end (default): one SimulatedDevice runs the sample Lambda on the profile; a real MQTT subscriber
stamps the JSON results published to ``$aws/things/<thing>/infer``. After a warm-up, the rate is counted over a
window with no competing load ("idle"), then a process starts spinning on one core ("busy": a multiprocessing
process, for the rest of the run) and, after a settling time, the rate is counted over a second window of the same
length — side by side in one run. Each rate is compared with 1000 / predicted ms: within 5 % passes; so does a
shortfall that the device's status reported as "host too slow" within 2 s of the load starting (the status is
polled every 0.1 s from the moment the busy process starts). The Lambda's own work (resize, drawing, JPEG) runs
between paced inferences, as it did on the device. os.getloadavg() is printed at each step.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOLERANCE = 0.05
SAY_WITHIN = 2.0  # seconds


def loadavg() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _spin() -> None:
    while True:
        pass


def busy_core() -> mp.Process:
    proc = mp.get_context("spawn").Process(target=_spin, name="busy-core", daemon=True)
    proc.start()
    return proc


def _verdict(what: str, rate: float, predicted_ms: float, said_slow_after: float | None = None) -> bool:
    target = 1000.0 / predicted_ms
    error = rate / target - 1
    ok = abs(error) <= TOLERANCE
    said = said_slow_after is not None and said_slow_after <= SAY_WITHIN
    note = "within 5 %" if ok else ("NOT within 5 %, and the status said 'host too slow' after "
                                    f"{said_slow_after:.1f} s" if said_slow_after is not None else
                                    "NOT within 5 %, and the status never said 'host too slow'")
    print(f"  {what}: predicted {predicted_ms:.1f} ms -> {target:.2f} /s; measured {rate:.2f} /s ({error:+.1%}): {note}"
          f" -> {'PASS' if ok or said else 'FAIL'}")
    return ok or said


def direct(profile_name: str, model: str | None, seconds: float, loads: list[str]) -> int:
    """The Pacer around OpenVINO alone (no camera, no Lambda), idle and with a busy core."""
    import numpy as np

    from simulator.profiles import load_profile
    from simulator.profiles.measure import compile_for_host, read_graph
    from simulator.profiles.pacing import make_pacer
    from simulator.profiles.refnets import mobilenet_v2

    if model is None:
        graph, name = mobilenet_v2(), "mobilenet_v2 (reference)"
    elif Path(model).exists():
        graph, name = read_graph(model), model
    else:
        from simulator.inference import store

        graph, name = read_graph(store.ensure_model(model)), model
    pacer = make_pacer(graph, load_profile(profile_name), "CPU")
    if pacer is None:
        print(f"profile {profile_name} is not paced")
        return 1
    request = compile_for_host(graph).create_infer_request()
    inputs = {i: np.zeros([d.get_length() if d.is_static else 1 for d in p.get_partial_shape()],
                          p.get_element_type().to_dtype()) for i, p in enumerate(request.model_inputs)}
    for _ in range(3):
        pacer.run(request.infer, inputs)
    ok = True
    busy = None
    try:
        for load in loads:
            if load == "busy" and busy is None:
                busy = busy_core()
                time.sleep(1.0)
            count, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                pacer.run(request.infer, inputs)
                count += 1
            rate = count / (time.perf_counter() - t0)
            print(f"{name} on {profile_name}, {load} ({loadavg()}): {count} paced inferences; {pacer.status}")
            ok &= _verdict(load, rate, pacer.predicted_ms, 0.0 if pacer.host_too_slow else None)
    finally:
        if busy is not None:
            busy.terminate()
            busy.join(5)
    return 0 if ok else 1


class ResultStamps:
    """A real MQTT subscriber stamping every JSON result (not the Lambda's status strings)."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt

        self.stamps: list[float] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paced-rate-bench")
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(topic, qos=0)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        try:
            if isinstance(json.loads(msg.payload), dict):
                with self._lock:
                    self.stamps.append(time.monotonic())
        except ValueError:
            pass

    def count(self) -> int:
        with self._lock:
            return len(self.stamps)

    def rate(self, start: int, end: int) -> float | None:
        with self._lock:
            window = self.stamps[start:end]
        return (len(window) - 1) / (window[-1] - window[0]) if len(window) >= 2 else None

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _watch_slow(device, seconds: float) -> float | None:
    """Poll the status for ``seconds``: seconds until it first said 'host too slow' (None: it never did)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        pacing = device.status().inference.pacing
        if pacing is not None and pacing.host_too_slow:
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def end_to_end(profile_name: str, project: str, source: str, seconds: float, warmup: float, settle: float,
               loads: list[str]) -> int:
    from simulator.config import RunConfig
    from simulator.core import SimulatedDevice

    print(f"{project} on {profile_name}, source {source}; {loadavg()}")
    device = SimulatedDevice(RunConfig(project=project, profile=profile_name, source=source, mqtt_port=0,
                                       http_port=0)).start()
    results = ResultStamps(device.connect_host, device.mqtt_port, device.infer_topic)
    busy = None
    ok = True
    try:
        time.sleep(warmup)
        for load in loads:
            said_slow = None
            if load == "busy" and busy is None:
                busy = busy_core()
                said_slow = _watch_slow(device, settle)
            start = results.count()
            time.sleep(seconds)
            end = results.count()
            inference = device.status().inference
            pacing = inference.pacing
            if pacing is None or not pacing.predicted_ms:
                print("no pacing information (is the profile paced, did the Lambda start?)")
                return 1
            if said_slow is None and pacing.host_too_slow:
                said_slow = float("inf")  # said so, but later than the settling time
            rate = results.rate(start, end)
            print(f"{load}: {end - start} results in the {seconds:.0f} s window; host {inference.host_ms} ms; "
                  f"status: {pacing.status}; {loadavg()}")
            if rate is None:
                print("  too few results")
                return 1
            ok &= _verdict(load, rate, pacing.predicted_ms, said_slow)
    finally:
        results.stop()
        device.stop()
        if busy is not None:
            busy.terminate()
            busy.join(5)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="raspberry-pi-4")
    ap.add_argument("--seconds", type=float, default=20.0, help="each measurement window")
    ap.add_argument("--warmup", type=float, default=15.0, help="end to end: seconds before the first window")
    ap.add_argument("--settle", type=float, default=3.0, help="end to end: seconds between starting the load and "
                                                               "its window (the status is watched meanwhile)")
    ap.add_argument("--project", default="object_detection")
    ap.add_argument("--source", default="demo")
    ap.add_argument("--loads", default="idle,busy")
    ap.add_argument("--direct", action="store_true", help="Pacer + OpenVINO only, no simulated device")
    ap.add_argument("--model", help="--direct: bundled model name or file (default: reference MobileNetV2)")
    args = ap.parse_args(argv)
    loads = [s for s in args.loads.replace(",", " ").split() if s]
    if args.direct:
        return direct(args.profile, args.model, args.seconds, loads)
    return end_to_end(args.profile, args.project, args.source, args.seconds, args.warmup, args.settle, loads)


if __name__ == "__main__":
    sys.exit(main())
