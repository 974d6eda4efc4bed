"""Falling behind and how many devices a machine sustains, from devices' statuses."""

from __future__ import annotations

from simulator.fleet.capacity import device_rate, is_behind, paced_rate, report, settled
from simulator.status import BrokerStatus, DeviceStatus, InferenceStatus, PacingStatus, StartupStatus


def status(thing: str, fps: float, profile: str = "host", paced_fps: float | None = None,
           first_result_s: float | None = 2.0, elapsed_s: float = 10.0) -> DeviceStatus:
    pacing = None if paced_fps is None else PacingStatus(
        profile=profile, paced=True, predicted_ms=1000 / paced_fps, host_ms=20.0, effective_ms=1000 / paced_fps,
        fps=paced_fps, host_too_slow=False, inferences=100, status=f"paced to {profile}")
    return DeviceStatus(
        thing_name=thing, profile=profile, source="clip", inference=InferenceStatus(fps=fps, pacing=pacing),
        broker=BrokerStatus(host="127.0.0.1", port=1883, embedded=True, infer_topic=f"$aws/things/{thing}/infer"),
        messages=0, startup=StartupStatus(stage="running", ready=first_result_s is not None, elapsed_s=elapsed_s,
                                          first_result_s=first_result_s))


def test_paced_devices_are_held_to_their_profile_and_host_devices_to_the_baseline():
    pi = status("pi", fps=4.4, profile="raspberry-pi-4", paced_fps=5.0)
    assert paced_rate(pi) == 5.0 and device_rate(pi, host_baseline=30.0).behind is True  # 4.4 < 4.5
    ok = status("pi2", fps=4.6, profile="raspberry-pi-4", paced_fps=5.0)
    assert device_rate(ok, host_baseline=None).behind is False
    host = status("h", fps=20.0)
    assert paced_rate(host) is None
    assert device_rate(host, host_baseline=30.0).behind is True and device_rate(host, 21.0).behind is False
    assert device_rate(host, host_baseline=None).behind is None  # nothing to compare with


def test_a_device_is_judged_only_once_settled():
    young = status("y", fps=1.0, first_result_s=8.0, elapsed_s=9.0)  # first result a second ago
    assert not settled(young) and device_rate(young, 30.0).fps is None and device_rate(young, 30.0).behind is None
    assert not settled(status("n", fps=0.0, first_result_s=None))
    assert is_behind(None, 5.0) is None and is_behind(5.0, None) is None and is_behind(4.0, 5.0) is True


def test_report_counts_devices_at_full_rate():
    rates = [device_rate(status(f"d{i}", fps=f), host_baseline=10.0) for i, f in enumerate([10.0, 9.5, 6.0, 3.0])]
    rates.append(device_rate(status("young", fps=0.5, first_result_s=None), host_baseline=10.0))
    r = report(rates)
    assert (r.devices, r.judged, r.keeping_up, r.behind) == (5, 4, 2, 2)
    assert r.full_rate_devices == 2.85 and r.sustained == 2 and r.total_fps == 28.5
    assert "2 of 4 keep up" in r.describe() and "about 2 device(s)" in r.describe()
    everyone = report([device_rate(status("a", fps=10.0), 10.0)])
    assert "sustains all 1" in everyone.describe()
    none = report([device_rate(status("a", fps=2.0), 10.0)])
    assert none.sustained == 0 and "not sustain even one" in none.describe()
    assert "not settled" in report([]).describe()
