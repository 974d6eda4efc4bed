"""``--cpu-threads``: a cap on the Lambda's OpenVINO CPU threads, left unpinned, so Lambdas that share the cores
(a fleet) take turns instead of waiting on one another; checked on real compiled models and a real device."""

from __future__ import annotations

import time

import numpy as np
import pytest

from simulator.config import RunConfig, config_error
from simulator.errors import ConfigError
from simulator.fleet.runner import FleetOptions
from simulator.inference import devices
from tests.conftest import ROOT

LAMBDA = str(ROOT / "tests/lambdas/style2018")


def compiled_properties(tiny_artifacts) -> dict[str, object]:
    [xml] = tiny_artifacts.glob("*.xml")
    compiled = devices.compile_model(str(xml), "CPU")
    request = compiled.create_infer_request()
    port = compiled.inputs[0]
    request.infer({0: np.zeros(list(port.shape), dtype=port.element_type.to_dtype())})
    return {key: compiled.get_property(key) for key in ("INFERENCE_NUM_THREADS", "ENABLE_CPU_PINNING")}


def test_the_cap_reaches_openvino_unpinned(monkeypatch, tiny_artifacts):
    monkeypatch.setenv("DEEPLENS_SIM_CPU_THREADS", "1")
    assert compiled_properties(tiny_artifacts) == {"INFERENCE_NUM_THREADS": 1, "ENABLE_CPU_PINNING": False}
    assert "INFERENCE_NUM_THREADS" not in devices.compile_config("GPU")  # a CPU setting only


def test_without_it_openvino_keeps_its_default(monkeypatch, tiny_artifacts):
    monkeypatch.delenv("DEEPLENS_SIM_CPU_THREADS", raising=False)
    assert "INFERENCE_NUM_THREADS" not in devices.compile_config()
    assert compiled_properties(tiny_artifacts)["ENABLE_CPU_PINNING"] is True


@pytest.mark.parametrize("raw", ["0", "two", "-1"])
def test_a_bad_value_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("DEEPLENS_SIM_CPU_THREADS", raw)
    with pytest.raises(ValueError, match=f"DEEPLENS_SIM_CPU_THREADS='{raw}': expected a whole number"):
        devices.compile_config()


def test_a_bad_flag_names_the_flag():
    with pytest.raises(Exception) as info:
        RunConfig(cpu_threads=0)
    err = config_error(info.value)
    assert isinstance(err, ConfigError) and str(err).startswith("--cpu-threads:")


def test_the_lambda_runs_with_the_cap_and_says_so(run_device, tiny_artifacts, video_file):
    device, _ = run_device(project=LAMBDA, source=str(video_file), artifacts=tiny_artifacts, cpu_threads=1)
    deadline = time.monotonic() + 60
    while device.status().inference.inferences < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert device.status().inference.runs_on == "CPU (f32, 1 thread)"


@pytest.mark.parametrize(("devices_", "cores", "given", "expected"), [
    (1, 2, None, None),  # one device: OpenVINO's default
    (4, 2, None, 1),  # more devices than cores: one thread each
    (2, 8, None, 4),  # the cores shared out
    (3, 8, None, 2),
    (4, 2, 2, 2),  # asked for
    (4, 2, 0, None),  # OpenVINO's default asked for
])
def test_a_fleet_shares_the_cores_out(devices_, cores, given, expected):
    assert FleetOptions(devices=devices_, cpu_threads=given).threads_per_device(cores) == expected
