"""Importing OpenVINO through the simulator and converting a model send nothing to OpenVINO's usage telemetry and
leave no file in the user's home (OpenVINO's conversion API reports both unless the user opted out)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

CONVERT = """
import sys
from pathlib import Path
import simulator  # first, as main.py and the Lambda host import it
from simulator.inference.adapter import read_graph
from simulator.inference.telemetry_off import conversion_telemetry_off
from tests.test_own_models import save_gray_onnx
import openvino as ov

conversion_telemetry_off()  # as the simulator does before each conversion
model = ov.convert_model(str(save_gray_onnx(Path(sys.argv[1]) / "gray.onnx")))
assert model.inputs, "nothing converted"
"""


def test_importing_openvino_and_converting_a_model_leave_no_telemetry_behind(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}  # as on a laptop
    subprocess.run([sys.executable, "-c", CONVERT, str(tmp_path)], cwd=ROOT, check=True, timeout=120,
                   env={**env, "HOME": str(home)})
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []  # no ~/intel/openvino_ga_cid, no stats
