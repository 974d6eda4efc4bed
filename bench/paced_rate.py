"""Does a paced run publish at the predicted rate? (issue 4: within 10 % on the raspberry-pi-4 profile)

    python bench/paced_rate.py [--profile raspberry-pi-4] [--seconds 20] [--project object_detection]
    python bench/paced_rate.py --direct [--model NAME|PATH]     # only Pacer + OpenVINO, no device

End to end (default): a SimulatedDevice runs the sample Lambda on the profile; a real MQTT subscriber counts the
JSON results published to ``$aws/things/<thing>/infer`` after a warm-up, and the rate is compared with
1000 / predicted ms. The Lambda's own work (resize, drawing, JPEG) adds to each period, as it did on the device.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _verdict(rate: float, predicted_ms: float) -> int:
    target = 1000.0 / predicted_ms
    error = rate / target - 1
    ok = abs(error) <= 0.10
    print(f"predicted {predicted_ms:.1f} ms -> {target:.2f} /s; measured {rate:.2f} /s ({error:+.1%}): "
          f"{'within' if ok else 'NOT within'} 10 %")
    return 0 if ok else 1


def direct(profile_name: str, model: str | None, seconds: float) -> int:
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
    import numpy as np

    inputs = {i: np.zeros([d.get_length() if d.is_static else 1 for d in p.get_partial_shape()],
                          p.get_element_type().to_dtype()) for i, p in enumerate(request.model_inputs)}
    for _ in range(3):
        pacer.run(request.infer, inputs)
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        pacer.run(request.infer, inputs)
        count += 1
    rate = count / (time.perf_counter() - t0)
    print(f"{name} on {profile_name}: {count} paced inferences; {pacer.status}")
    return _verdict(rate, pacer.predicted_ms)


def end_to_end(profile_name: str, project: str, source: str, seconds: float, warmup: float) -> int:
    import paho.mqtt.client as mqtt

    from simulator.config import RunConfig
    from simulator.core import SimulatedDevice

    device = SimulatedDevice(RunConfig(project=project, profile=profile_name, source=source, mqtt_port=0,
                                       http_port=0)).start()
    stamps: list[float] = []
    lock = threading.Lock()

    def on_message(client, userdata, msg):
        try:
            if isinstance(json.loads(msg.payload), dict):  # results, not the status strings
                with lock:
                    stamps.append(time.monotonic())
        except ValueError:
            pass

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paced-rate-bench")
    client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(device.infer_topic, qos=0)
    client.on_message = on_message
    try:
        client.connect(device.mqtt_host, device.mqtt_port)
        client.loop_start()
        time.sleep(warmup)
        with lock:
            start_n = len(stamps)
        time.sleep(seconds)
        with lock:
            window = stamps[start_n:]
        inference = device.status().inference
    finally:
        client.loop_stop()
        client.disconnect()
        device.stop()
    pacing = inference.pacing
    print(f"{project} on {profile_name}: {len(window)} results in the {seconds:.0f} s window; "
          f"host {inference.host_ms} ms; status: {pacing.status if pacing else 'unpaced'}")
    predicted = pacing.predicted_ms if pacing else None
    if not predicted or len(window) < 2:
        print("no pacing information or too few results (is the profile paced, did the Lambda start?)")
        return 1
    rate = (len(window) - 1) / (window[-1] - window[0])
    return _verdict(rate, predicted)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="raspberry-pi-4")
    ap.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    ap.add_argument("--warmup", type=float, default=15.0, help="end to end: seconds before counting")
    ap.add_argument("--project", default="object_detection")
    ap.add_argument("--source", default="demo")
    ap.add_argument("--direct", action="store_true", help="Pacer + OpenVINO only, no simulated device")
    ap.add_argument("--model", help="--direct: bundled model name or file (default: reference MobileNetV2)")
    args = ap.parse_args(argv)
    if args.direct:
        return direct(args.profile, args.model, args.seconds)
    return end_to_end(args.profile, args.project, args.source, args.seconds, args.warmup)


if __name__ == "__main__":
    sys.exit(main())
