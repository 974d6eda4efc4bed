"""The device's modules in-process: awscam, mo, greengrasssdk, the project-stream redirection, shadows."""

from __future__ import annotations

import builtins
import io
import json
import logging
import os

import cv2
import numpy as np
import pytest

from simulator.inference.results import parse_result
from simulator.ipc import context
from simulator.ipc.frames import FrameSlot
from simulator.ipc.project_stream import ProjectStreamWriter
from simulator.ipc.shadows import ShadowError, ShadowStore
from simulator.ipc.slot import SharedSlot
from simulator.ipc.stats import StatsReader


@pytest.fixture
def device_env(tmp_path, monkeypatch, tiny_artifacts):
    """The environment a Lambda process gets from the supervisor, with a frame slot and a stats slot."""
    from simulator.broker.embedded import EmbeddedBroker

    broker = EmbeddedBroker("127.0.0.1", 0).start()
    slot = FrameSlot.create(tmp_path / context.FRAMES_FILE, 64, 48)
    stats = StatsReader.create(tmp_path / context.STATS_FILE)
    ctx = context.DeviceContext(thing_name="deeplens_test", run_dir=tmp_path, mqtt_port=broker.port,
                                artifacts=tiny_artifacts, shadows=tmp_path / "shadows")
    for k, v in ctx.env().items():
        monkeypatch.setenv(k, v)
    context.current.cache_clear()
    from simulator.device import awscam, greengrasssdk
    from simulator.ipc import process

    process.stats.cache_clear()
    greengrasssdk._link.cache_clear()
    greengrasssdk._store.cache_clear()
    awscam._slot, awscam._last_index, awscam._stale, awscam._copy_until = None, 0, 0, 0.0
    yield ctx, slot, stats, broker
    if greengrasssdk._link.made:
        greengrasssdk._link().stop()
    greengrasssdk._link.cache_clear()
    context.current.cache_clear()
    slot.close()
    stats.close()
    broker.stop()


def _copied(frame: np.ndarray) -> bool:
    """A frame in memory of its own (a copy), not the frame slot's buffer."""
    base = frame.base if frame.base is not None else frame
    return bool(base.flags.owndata)


def test_get_last_frame_never_blocks_and_reports_stale_frames(device_env, caplog):
    from simulator.device import awscam

    _, slot, stats, _ = device_env
    assert awscam.getLastFrame() == (False, None)  # no frame yet: no blocking, ret False
    slot.write(np.full((48, 64, 3), 7, np.uint8))
    slot.note_copied_read()  # a viewer reads the camera's frames: the Lambda gets copies
    ret, frame = awscam.getLastFrame()
    assert ret and frame.shape == (48, 64, 3) and frame[0, 0, 0] == 7 and _copied(frame)
    frame[:] = 0  # the Lambda draws on its copy; the camera's frame is untouched
    with caplog.at_level(logging.WARNING, logger="awscam"):
        ret, again = awscam.getLastFrame()
    assert ret and again[0, 0, 0] == 7
    assert "returned the same frame again" in caplog.text
    from simulator.ipc.process import stats as writer

    writer().flush()
    assert stats.read()["stale_frames"] == 1


def test_get_last_frame_hands_over_the_slot_buffer_when_nothing_else_reads(device_env):
    """No 12 MB copy: the frame is the slot's buffer, the camera writes around it while the Lambda holds it, and
    what the Lambda draws never reaches a reader that copies (a viewer, the Kinesis Video recorder)."""
    from simulator.device import awscam

    _, slot, _, _ = device_env
    slot.write(np.full((48, 64, 3), 1, np.uint8))
    ret, frame = awscam.getLastFrame()
    assert ret and not _copied(frame) and frame[0, 0, 0] == 1
    cv2.rectangle(frame, (0, 0), (10, 10), (0, 0, 255), -1)  # the Lambda draws on it
    for value in range(2, 12):
        slot.write(np.full((48, 64, 3), value, np.uint8))
        assert frame[40, 40, 0] == 1 and frame[0, 0, 2] == 255  # the camera leaves the held buffer alone
    ret, newer = awscam.getLastFrame()
    assert ret and newer[0, 0, 0] == 11 and not _copied(newer)
    viewer = FrameSlot.attach(slot.path)
    assert viewer.read() is None  # the newest was handed out: a reader that copies waits for a clean one
    slot.write(np.full((48, 64, 3), 12, np.uint8))
    got = viewer.read()
    assert got is not None and int(got.image.min()) == int(got.image.max()) == 12
    ret, copied = awscam.getLastFrame()  # while such a reader is about, the Lambda copies too
    assert ret and copied[0, 0, 0] == 12 and _copied(copied)
    viewer.close()


def test_a_lambda_back_before_the_next_frame_waits_briefly_for_it_then_copies(device_env, caplog):
    import threading

    from simulator.device import awscam
    from simulator.ipc.frames import STALE_WAIT

    _, slot, _, _ = device_env
    slot.write(np.full((48, 64, 3), 1, np.uint8))
    _, frame = awscam.getLastFrame()
    assert not _copied(frame)
    frame[:] = 0  # drawn on: it cannot come back as the camera made it
    later = threading.Timer(STALE_WAIT / 4, lambda: slot.write(np.full((48, 64, 3), 2, np.uint8)))
    later.start()
    ret, frame = awscam.getLastFrame()  # the camera's next frame comes within the wait: that one, not stale
    later.join()
    assert ret and frame[0, 0, 0] == 2 and awscam._stale == 0
    frame[:] = 0
    with caplog.at_level(logging.WARNING, logger="awscam"):
        ret, again = awscam.getLastFrame()  # none comes (a camera that stalled): the same frame, as drawn on
    assert ret and again[0, 0, 0] == 0 and awscam._stale == 1 and "returned the same frame again" in caplog.text
    slot.write(np.full((48, 64, 3), 3, np.uint8))
    ret, frame = awscam.getLastFrame()
    assert ret and frame[0, 0, 0] == 3 and _copied(frame)  # and copies for a while after


def test_model_infers_on_any_frame_layout_and_parses(device_env):
    from simulator.device import awscam

    model = awscam.Model("/opt/awscam/artifacts/tiny_classifier.xml", {"GPU": 1})
    assert model.input_hw == (64, 64)
    red = np.zeros((64, 64, 3), np.uint8)
    red[:, :, 2] = 250
    outputs = [model.doInference(red),                                   # HWC uint8 (most Lambdas)
               model.doInference(red.astype(np.float32).transpose(2, 0, 1)),  # CHW float32
               model.doInference(cv2.resize(red, (300, 200)))]          # another model's size
    for raw in outputs:
        assert list(raw) == ["prob"] and raw["prob"].dtype == np.float32 and raw["prob"].shape == (3,)
        parsed = model.parseResult("classification", raw)["classification"]
        assert parsed[0]["label"] == 2 and parsed[0]["prob"] > parsed[1]["prob"]
    with pytest.raises(ValueError, match="model_type must be one of"):
        model.parseResult("yolo", outputs[0])


def test_model_errors_are_clear(device_env, caplog):
    from simulator.device import awscam
    from simulator.errors import ModelNotFoundError

    with caplog.at_level(logging.ERROR, logger="awscam"), \
            pytest.raises(ModelNotFoundError, match="model file not found: /opt/awscam/artifacts/nothing.xml"):
        awscam.Model("/opt/awscam/artifacts/nothing.xml", {"GPU": 0})
    # logged too: a Lambda that catches the error and only publishes it still leaves it in the Lambda log
    assert "model file not found: /opt/awscam/artifacts/nothing.xml" in caplog.text
    with pytest.raises(RuntimeError, match="Neo runtime .* is not supported"):
        awscam.Model("/opt/awscam/artifacts/neo_model", {"GPU": 1}, runtime=awscam.Runtime.NEO)


def test_parse_ssd_sorts_scales_and_clips():
    rows = np.array([[0, 15, 0.4, 0.1, 0.2, 0.5, 0.6],
                     [0, 8, 0.9, -0.1, 0.0, 1.2, 0.5],
                     [-1, 0, 0, 0, 0, 0, 0],
                     [0, 3, 0.99, 0, 0, 1, 1]], np.float32)  # after the end marker: ignored
    ssd = parse_result("ssd", {"det": rows.reshape(-1)}, (300, 300))["ssd"]
    assert [d["label"] for d in ssd] == [8, 15]
    assert ssd[0] == {"label": 8, "prob": pytest.approx(0.9), "xmin": 0.0, "ymin": 0.0,
                      "xmax": 300.0, "ymax": pytest.approx(150.0)}
    assert ssd[1]["xmin"] == pytest.approx(30.0) and ssd[1]["ymax"] == pytest.approx(180.0)


def test_parse_segmentation_gives_a_class_map():
    scores = np.zeros((3, 4, 5), np.float32)
    scores[1, :2] = 0.9
    scores[2, 2:] = 0.8
    seg = parse_result("segmentation", {"out": scores.reshape(-1)}, (4, 5))["segmentation"][0]
    assert seg["label_map"].shape == (4, 5) and seg["labels"] == [1, 2]
    assert seg["label_map"][0, 0] == 1 and seg["label_map"][3, 4] == 2
    assert seg["prob_map"][3, 4] == pytest.approx(0.8)


def test_project_stream_writer_takes_bytes_in_text_mode_and_keeps_newest(tmp_path):
    slot = SharedSlot.create(tmp_path / "p", 1 << 20)
    writer = ProjectStreamWriter(slot)
    a = cv2.imencode(".jpg", np.full((20, 30, 3), 10, np.uint8))[1].tobytes()
    b = cv2.imencode(".jpg", np.full((20, 30, 3), 240, np.uint8))[1].tobytes()
    writer.write(a[:100])  # a partial JPEG is held back...
    assert slot.read() is None
    writer.write(a[100:])  # ...until it is complete
    assert slot.read().data.tobytes() == a
    writer.write(a + b)  # two JPEGs in one write: the newest wins
    assert slot.read().data.tobytes() == b
    slot.close()


def test_device_paths_are_redirected_and_other_files_are_untouched(device_env, monkeypatch, tmp_path):
    import threading

    from simulator.ipc import context as dctx
    from simulator.runtime import redirects

    ctx, frames, _, _ = device_env
    monkeypatch.setattr(builtins, "open", builtins.open)
    monkeypatch.setattr(io, "open", io.open)
    for name in ("mkfifo", "remove", "unlink", "listdir"):
        monkeypatch.setattr(os, name, getattr(os, name))
    for name in ("exists", "isfile", "isdir"):
        monkeypatch.setattr(os.path, name, getattr(os.path, name))
    monkeypatch.setattr(cv2, "VideoCapture", cv2.VideoCapture)
    monkeypatch.setattr(redirects, "_installed", threading.Lock())
    monkeypatch.delattr(os, "mkfifo")  # as on a system without FIFOs: the project stream works all the same
    project = SharedSlot.create(ctx.run_dir / dctx.PROJECT_FILE, 1 << 20)
    redirects.install(ctx)

    os.mkfifo("/tmp/results.mjpeg")  # no real FIFO is made, no error if it "exists"
    os.mkfifo("/tmp/results.mjpeg")
    jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1]
    with open("/tmp/results.mjpeg", "w") as fifo:  # the documented 'w' + bytes pattern
        fifo.write(jpeg.tobytes())
    assert project.read().data.tobytes() == jpeg.tobytes()
    os.remove("/tmp/results.mjpeg")

    (ctx.artifacts / "labels.txt").write_text("cat\ndog\n")
    assert os.path.isfile("/opt/awscam/artifacts/labels.txt") and os.path.isdir("/opt/awscam/artifacts")
    assert "tiny_classifier.xml" in os.listdir("/opt/awscam/artifacts")
    with open("/opt/awscam/artifacts/labels.txt") as f:
        assert f.read().split() == ["cat", "dog"]
    (tmp_path / "other.txt").write_text("ordinary")
    with open(tmp_path / "other.txt") as f:
        assert f.read() == "ordinary"

    frames.write(np.full((48, 64, 3), 99, np.uint8))
    cap = cv2.VideoCapture("/opt/awscam/out/ch2_out.mjpeg")  # the device's raw stream, as some Lambdas read it
    ok, image = cap.read()
    assert cap.isOpened() and ok and image.shape == (480, 858, 3) and image[0, 0, 0] == 99
    frames.write(np.full((48, 64, 3), 5, np.uint8))
    ok, image = cv2.VideoCapture("/opt/awscam/out/ch1_out.h264").read()
    assert ok and image.shape == (48, 64, 3) and image[0, 0, 0] == 5
    assert not cv2.VideoCapture(str(tmp_path / "missing.mp4")).isOpened()  # other paths: real OpenCV
    project.close()


def test_shadow_store_semantics_and_persistence(tmp_path):
    store = ShadowStore(tmp_path)
    with pytest.raises(ShadowError, match="No shadow exists"):
        store.get("t1")
    accepted, delta = store.update("t1", {"state": {"desired": {"threshold": 0.5, "mode": "fast"}}})
    assert accepted["version"] == 1 and delta == {"threshold": 0.5, "mode": "fast"}
    _, delta = store.update("t1", {"state": {"reported": {"threshold": 0.5}}})
    assert delta == {"mode": "fast"}
    store.update("t1", {"state": {"desired": {"mode": None}}})  # null deletes
    doc = ShadowStore(tmp_path).get("t1")  # a new store on the same folder: survives restarts
    assert doc["version"] == 3 and doc["state"]["desired"] == {"threshold": 0.5}
    assert "delta" not in doc["state"]
    with pytest.raises(ShadowError, match="Version conflict"):
        store.update("t1", {"state": {"reported": {"x": 1}}, "version": 1})
    assert store.delete("t1")["version"] == 3
    with pytest.raises(ShadowError):
        store.get("t1")


def test_greengrasssdk_publish_shadow_and_invoke(device_env, subscribe):
    from simulator.device import greengrasssdk

    ctx, _, _, broker = device_env
    sub = subscribe(broker.port, f"$aws/things/{ctx.thing_name}/#")
    client = greengrasssdk.client("iot-data")
    client.publish(topic=f"$aws/things/{ctx.thing_name}/infer", payload=json.dumps({"cat": 0.8}))
    client.publish(topic=f"$aws/things/{ctx.thing_name}/infer")  # payload defaults to b''
    with pytest.raises(TypeError, match="bytes or str"):
        client.publish(topic="x", payload={"not": "serialised"})
    sub.wait_for(lambda m: m[1] == b'{"cat": 0.8}', timeout=10)
    sub.wait_for(lambda m: m[1] == b"", timeout=10)

    reply = client.update_thing_shadow(thingName=ctx.thing_name,
                                       payload=json.dumps({"state": {"desired": {"fps": 5}}}))
    assert json.loads(reply["payload"])["version"] == 1
    sub.wait_for(lambda m: m[0].endswith("/shadow/update/delta") and b'"fps": 5' in m[1], timeout=10)
    assert json.loads(client.get_thing_shadow(thingName=ctx.thing_name)["payload"])["state"]["delta"] == {"fps": 5}

    greengrasssdk.local_functions["echo"] = lambda event, context: {"got": event}
    lam = greengrasssdk.client("lambda")
    result = lam.invoke(FunctionName="arn:aws:lambda:us-east-1:1:function:echo", Payload=json.dumps({"a": 1}))
    assert json.loads(result["Payload"].read()) == {"got": {"a": 1}}
    missing = lam.invoke(FunctionName="nobody", Payload=b"{}")
    assert missing["FunctionError"] == "Unhandled"
    with pytest.raises(ValueError, match="unknown service"):
        greengrasssdk.client("s3")


def test_mo_names_every_file_it_looked_for(device_env, caplog):
    from simulator.device import mo

    with caplog.at_level(logging.ERROR, logger="mo"):
        assert mo.optimize("deploy_ssd_resnet50_512", 512, 512) == (2, "")  # MXNet is read; the files are missing
    assert "deploy_ssd_resnet50_512-symbol.json + deploy_ssd_resnet50_512-NNNN.params" in caplog.text
    assert "deploy_ssd_resnet50_512.onnx" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="mo"):
        assert mo.optimize("net", 224, 224, platform="caffe") == (2, "")
    assert "net.prototxt + net.caffemodel" in caplog.text
    assert mo.optimize("frozen_model", 84, 84, platform="tf") == (2, "")  # no such file: optimizer failed
    assert mo.optimize("m", 2000, 84, platform="tf")[0] == 2  # width above 1024
    assert mo.optimize("m", 84, 84, platform="chainer")[0] == 1


@pytest.mark.parametrize("profile", ["host", "deeplens"])
def test_an_unpaced_model_tries_one_thread_fewer_and_says_which_it_kept(device_env, monkeypatch, caplog, profile):
    """On the host profile the Lambda's OpenVINO threads are tried once it runs (thread_trial); a profile that paces
    the inference waits for its own time whatever the threads do, so nothing is tried."""
    import functools
    import time

    from simulator.device import awscam
    from simulator.inference import adapter
    from simulator.ipc.process import stats

    ctx, _, reader, _ = device_env
    monkeypatch.setenv(context.ENV_CONTEXT, ctx.model_copy(update={"profile": profile}).model_dump_json())
    context.current.cache_clear()
    monkeypatch.setattr(awscam, "TRY_THREADS_AFTER", 0.05)
    monkeypatch.setattr(adapter, "ThreadTrial", functools.partial(adapter.ThreadTrial, block_s=0.02, blocks=2))
    model = awscam.Model("/opt/awscam/artifacts/tiny_classifier.xml", {"GPU": 0})
    if model._model.threads < 2:
        pytest.skip("OpenVINO runs on one thread here: there is no fewer to try")
    frame = np.zeros((64, 64, 3), np.uint8)
    with caplog.at_level(logging.INFO, logger="awscam"):
        start = time.monotonic()
        while "OpenVINO runs" not in caplog.text and time.monotonic() - start < (20 if profile == "host" else 1.5):
            model.doInference(frame)
    stats().flush()
    runs_on = reader.read()["runs_on"]
    if profile == "host":
        assert "OpenVINO runs tiny_classifier.xml on" in caplog.text
        assert "thread" in runs_on  # the status names what was kept
    else:  # 1.5 s: the trial would have chosen within 0.05 + 4 x 0.02 s
        assert "OpenVINO runs" not in caplog.text and "thread" not in runs_on
