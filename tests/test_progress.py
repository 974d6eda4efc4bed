"""Progress reports reach every listener, and say whether one of them showed the report to the user."""

from __future__ import annotations

from simulator import progress


def test_a_report_says_whether_a_listener_told_the_user():
    heard: list[tuple[str, str, float | None]] = []
    recorded: list[str] = []
    stop_recording = progress.listen(lambda stage, detail, percent: recorded.append(stage), tells_user=False)
    try:
        assert progress.report("converting", "m to OpenVINO IR (once)") is False  # only recorded: the caller prints
        stop_showing = progress.listen(lambda *args: heard.append(args))
        assert progress.report("downloading", "m.whl", 12.0) is True
        stop_showing()
        stop_showing()  # twice is fine
        assert progress.report("starting the Lambda") is False
    finally:
        stop_recording()
    assert progress.report("no one listens") is False
    assert heard == [("downloading", "m.whl", 12.0)]
    assert recorded == ["converting", "downloading", "starting the Lambda"]


def test_the_same_function_listening_twice_is_stopped_once_per_listen():
    heard: list[str] = []

    def note(stage: str, detail: str, percent: float | None) -> None:
        heard.append(stage)

    first = progress.listen(note, tells_user=False)
    second = progress.listen(note)
    first()
    assert progress.report("a") is True  # the second, which tells the user, still listens
    second()
    assert progress.report("b") is False
    assert heard == ["a"]
