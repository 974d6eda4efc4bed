"""Hardware profiles: strict validation (file, line and key in errors), the shipped devices, and pacing."""

from __future__ import annotations

import json
import textwrap

import pytest

from simulator.errors import ConfigError
from simulator.profiles import Profile, available_profiles, load_profile
from simulator.profiles.pacing import Pacer, make_pacer

MINIMAL = """\
name: my-board
pacing: true
memory_gb: 2
memory_bandwidth_gbps: 10
cpu:
  model: Example
  cores: 4
  threads: 4
  base_ghz: 1.0
  boost_ghz: 1.2
  simd_bits: 128
  vector_pipes: 1
  fma: true
  efficiency: {conv: 0.5, depthwise: 0.1}
"""


def write(tmp_path, text: str, name: str = "board.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_shipped_profiles_load_and_are_named_like_their_files():
    names = available_profiles()
    assert {"deeplens", "raspberry-pi-4", "raspberry-pi-5", "host"} <= set(names)
    for name in names:
        assert load_profile(name).name == name


def test_deeplens_profile_describes_the_device():
    p = load_profile("deeplens")
    assert (p.camera.width, p.camera.height, p.camera.fps) == (2688, 1520, 30)
    assert p.memory_gb == 8 and p.pacing and p.default_device == "GPU"
    assert (p.cpu.cores, p.cpu.threads, p.cpu.base_ghz, p.cpu.boost_ghz) == (4, 4, 1.6, 1.8)
    assert p.cpu.simd_bits == 128 and p.cpu.fp32_lanes == 4 and not p.cpu.fma
    assert p.gpu.execution_units == 12
    assert p.cpu.peak_gflops_for("FP32") == pytest.approx(57.6)
    assert p.gpu.peak_gflops_for("FP32") == pytest.approx(115.2)
    assert p.gpu.peak_gflops_for("FP16") == pytest.approx(230.4)
    assert p.cpu.peak_gflops_for("FP16") is None  # SSE4.2 has no FP16 arithmetic


def test_raspberry_pi_peaks_follow_from_cores_clock_and_simd():
    assert load_profile("raspberry-pi-4").cpu.peak_gflops_for("FP32") == pytest.approx(48.0)
    assert load_profile("raspberry-pi-5").cpu.peak_gflops_for("FP32") == pytest.approx(153.6)
    assert load_profile("raspberry-pi-4").gpu is None


def test_host_profile_is_unpaced_and_takes_the_source_format():
    p = load_profile("host")
    assert not p.pacing and not p.predicts
    assert (p.camera.width, p.camera.height, p.camera.fps) == (None, None, None)


def test_user_profile_by_path(tmp_path):
    p = load_profile(write(tmp_path, MINIMAL))
    assert isinstance(p, Profile) and p.name == "my-board"
    for kind in ("gemm", "pointwise", "conv3x3"):
        assert p.cpu.efficiency.for_kind(kind) == 0.5  # falls back to conv
    assert p.cpu.efficiency.for_kind("pool") == 0.1  # falls back to depthwise
    assert p.cpu.stream_gbps is None and p.cpu.weight_gbps is None


def test_user_profile_without_stream_rates_uses_memory_bandwidth(tmp_path):
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    from simulator.profiles.perf import predict_latency_ms

    n = 32 * 64 * 64
    x = ops.parameter([1, 32, 64, 64], np.float32)
    g = ov.Model([ops.result(ops.add(x, x))], [x])  # reads x twice, writes once: 3 n floats; n FLOPs
    plain = load_profile(write(tmp_path, MINIMAL))
    fast = load_profile(write(tmp_path, MINIMAL.replace("  fma: true\n", "  fma: true\n  stream_gbps: 40\n"),
                              "fast.yaml"))
    compute_ms = n / (plain.cpu.peak_gflops_for("FP32") * 1e9 * 0.1) * 1e3  # elementwise falls back to depthwise
    assert predict_latency_ms(g, plain).ms == pytest.approx(compute_ms + 3 * n * 4 / 10e9 * 1e3)
    assert predict_latency_ms(g, fast).ms == pytest.approx(compute_ms + 3 * n * 4 / 40e9 * 1e3)


def test_fitted_profiles_carry_their_stream_rates():
    for name in ("deeplens", "raspberry-pi-4", "raspberry-pi-5"):
        p = load_profile(name)
        for spec in filter(None, (p.cpu, p.gpu)):
            assert spec.stream_gbps and spec.weight_gbps and spec.efficiency.conv3x3 and spec.efficiency.pointwise


def test_unknown_key_names_file_line_and_key(tmp_path):
    path = write(tmp_path, MINIMAL.replace("  fma: true\n", "  fma: true\n  turbo_mode: 3\n"))
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    line = MINIMAL.splitlines().index("  fma: true") + 2
    message = str(err.value)
    assert f"{path}:{line}:" in message and "cpu.turbo_mode" in message and "unknown field" in message


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, "name: x\npacing: false\ncolour: blue\n")
    with pytest.raises(ConfigError, match=r":3: field 'colour': unknown field"):
        load_profile(path)


def test_bad_value_type_names_file_line_and_field(tmp_path):
    path = write(tmp_path, MINIMAL.replace("memory_gb: 2", "memory_gb: lots"))
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    assert f"{path}:3: field 'memory_gb'" in str(err.value) and "'lots'" in str(err.value)


def test_a_key_given_twice_names_both_lines(tmp_path):
    """YAML keeps the last of two equal keys without a word: the file is refused instead."""
    path = write(tmp_path, MINIMAL.replace("  cores: 4\n", "  cores: 4\n  cores: 8\n"))
    with pytest.raises(ConfigError, match=r"board.yaml:8: field 'cpu.cores': given twice \(first on line 7\)"):
        load_profile(path)


def test_bad_nested_value(tmp_path):
    path = write(tmp_path, MINIMAL.replace("cores: 4", "cores: -1"))
    with pytest.raises(ConfigError, match=r"board.yaml:7: field 'cpu.cores'"):
        load_profile(path)


def test_paced_profile_needs_a_device(tmp_path):
    path = write(tmp_path, "name: x\npacing: true\n")
    with pytest.raises(ConfigError, match="needs a 'cpu' description"):
        load_profile(path)


def test_unknown_profile_name_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        load_profile("no-such-board")
    assert "deeplens" in str(err.value)


# --- pacing --------------------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def work(clock: FakeClock, ms: float):
    def fn(value):
        clock.now += ms / 1000
        return value
    return fn


def test_pacer_returns_no_sooner_than_predicted():
    clock = FakeClock()
    pacer = Pacer(load_profile("raspberry-pi-4"), 30.0, clock=clock, sleep=clock.sleep)
    start = clock.now
    assert pacer.run(work(clock, 12.0), "out") == "out"
    assert (clock.now - start) * 1000 == pytest.approx(30.0)
    assert pacer.host_ms == pytest.approx(12.0) and not pacer.host_too_slow
    assert pacer.status == "paced to raspberry-pi-4: predicted 30.0 ms (host 12.0 ms)"
    stats = pacer.stats()
    assert stats.paced and stats.effective_ms == pytest.approx(30.0) and stats.fps == pytest.approx(1000 / 30)


def test_pacer_says_plainly_when_the_host_is_too_slow():
    clock = FakeClock()
    pacer = Pacer(load_profile("deeplens"), 30.0, clock=clock, sleep=clock.sleep)
    pacer.run(work(clock, 41.2), None)
    assert clock.sleeps == []
    assert pacer.host_too_slow
    assert pacer.status == "host too slow for this profile: 41.2 ms > predicted 30.0 ms"


def test_pacer_start_finish_and_pace_with_an_external_measurement():
    clock = FakeClock()
    pacer = Pacer(load_profile("raspberry-pi-5"), 10.0, clock=clock, sleep=clock.sleep)
    pacer.start()
    clock.now += 0.004
    assert pacer.finish() == pytest.approx(4.0)
    t0 = clock.now
    clock.now += 0.002
    info = pacer.pace(t0, 2.0)
    assert (clock.now - t0) * 1000 == pytest.approx(10.0)
    assert info["status"].startswith("paced to raspberry-pi-5") and pacer.inferences == 2
    assert info["predicted_ms"] == 10.0 and info["host_ms"] == pytest.approx(3.0) and info["paced"]
    assert json.loads(json.dumps(info)) == info


def test_pacer_on_host_profile_is_a_no_op_that_still_measures():
    clock = FakeClock()
    pacer = Pacer(load_profile("host"), 30.0, clock=clock, sleep=clock.sleep)
    pacer.run(work(clock, 5.0), None)
    assert clock.sleeps == [] and not pacer.enabled and not pacer.host_too_slow
    assert pacer.status == "host: unpaced, host 5.0 ms"


def test_pacer_exception_is_not_paced():
    clock = FakeClock()
    pacer = Pacer(load_profile("raspberry-pi-4"), 30.0, clock=clock, sleep=clock.sleep)

    def boom():
        raise ValueError("bad frame")

    with pytest.raises(ValueError):
        pacer.run(boom)
    assert clock.sleeps == [] and pacer.inferences == 0


def test_pacer_real_clock_waits_at_least_the_prediction():
    import time

    pacer = Pacer(load_profile("raspberry-pi-4"), 20.0)
    start = time.perf_counter()
    pacer.run(lambda: None)
    assert (time.perf_counter() - start) * 1000 >= 20.0


def test_make_pacer():
    from simulator.profiles.refnets import mobilenet_v2

    assert make_pacer(mobilenet_v2(), "host", "CPU") is None
    pacer = make_pacer(mobilenet_v2(), "raspberry-pi-4", "GPU")  # no GPU on a Pi: its CPU
    assert pacer.enabled and pacer.predicted_ms == pytest.approx(pacer.prediction.ms)
    assert pacer.prediction.device == "CPU" and "no GPU" in pacer.prediction.note
    with pytest.raises(ValueError, match="no graph"):
        make_pacer(None, "deeplens", "GPU")


def test_a_raspberry_pi_gets_its_own_profile_by_default(tmp_path):
    from simulator.profiles.detect import default_profile

    model = tmp_path / "model"
    for text, expected in ((b"Raspberry Pi 4 Model B Rev 1.4\0", "raspberry-pi-4"),
                           (b"Raspberry Pi 5 Model B Rev 1.0\0", "raspberry-pi-5"),
                           (b"Raspberry Pi 3 Model B Plus Rev 1.3\0", "host"),
                           (b"Pine64 RockPro64\0", "host")):
        model.write_bytes(text)
        assert default_profile(model) == expected
    assert default_profile(tmp_path / "absent") == "host"  # x86 laptops have no device tree
