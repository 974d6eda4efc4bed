"""The supervisor's parts on their own: the output limiter, the traceback folder and crash diagnosis, the
watchdog's clock, the cgroup detection (on real files laid out as /sys/fs/cgroup would be)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.runtime.crashloop import CrashHistory, TracebackFolder, parse_traceback
from simulator.runtime.limits import find_cgroup_parent
from simulator.runtime.output import LineLimiter
from simulator.runtime.watchdog import ProgressWatchdog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_limiter_cuts_long_lines_across_chunks_and_keeps_short_ones_whole():
    limiter = LineLimiter("stdout", max_line_bytes=10, lines_per_second=100)
    assert limiter.feed(b"short\nabcdefgh") == ["short"]
    assert limiter.feed(b"ijklmnop") == []
    assert limiter.feed(b"qrs\nnext\r\n") == ["abcdefghij… [9 bytes cut]", "next"]
    assert limiter.feed("é€\n".encode()) == ["é€"]
    assert limiter.feed(b"no newline at the end") == []
    assert limiter.finish() == ["no newline… [11 bytes cut]"]
    assert limiter.lines_cut == 2 and limiter.bytes_cut == 20 and limiter.lines_dropped == 0


def test_limiter_drops_lines_over_the_rate_and_says_how_many():
    clock = Clock()
    limiter = LineLimiter("stderr", lines_per_second=5, clock=clock)
    shown = limiter.feed(b"".join(b"%d\n" % n for n in range(1000)))
    assert shown == ["0", "1", "2", "3", "4"]  # one second's worth at once, then nothing
    assert limiter.lines_dropped == 995 and limiter.note() is None  # a note at most once a second
    clock.now += 1.0
    assert limiter.note() == "[995 lines dropped: more than 5 lines/s on stderr]"
    assert limiter.note() is None
    assert limiter.feed(b"a\nb\nc\nd\ne\nf\n") == ["a", "b", "c", "d", "e"]  # refilled: a second's worth
    clock.now += 0.4  # two tokens back
    assert limiter.feed(b"g\nh\ni\n") == ["g", "h"]
    clock.now += 1.0
    assert limiter.feed(b"j\n") == ["[2 lines dropped: more than 5 lines/s on stderr]", "j"]
    assert limiter.lines_dropped == 997


IMPORT_CRASH = [
    "Traceback (most recent call last):",
    '  File "/x/simulator/runtime/host.py", line 144, in <module>',
    "    code = main()",
    '  File "/x/simulator/runtime/host.py", line 127, in main',
    "    module = load_lambda(lambda_file)",
    '  File "/x/simulator/runtime/host.py", line 95, in load_lambda',
    "    spec.loader.exec_module(module)",
    '  File "/p/lambda_function.py", line 3, in <module>',
    "    import mxnet_tools",
    "ModuleNotFoundError: No module named 'mxnet_tools'",
]


def test_a_traceback_is_shown_once_and_its_repeat_dropped_at_exit_or_told_in_one_line():
    clock = Clock()
    folder = TracebackFolder(clock)
    shown = [line for raw in ["starting", *IMPORT_CRASH] for line in folder.feed(raw)]
    assert shown == ["starting"]  # the traceback waits for its end
    assert folder.finish(exited=True) == IMPORT_CRASH
    folder.new_run()
    assert [line for raw in IMPORT_CRASH for line in folder.feed(raw)] == []
    assert folder.finish(exited=True) == []  # the same again, and the process exited: the supervisor says it
    assert folder.last_block == tuple(IMPORT_CRASH)
    folder.new_run()
    for raw in IMPORT_CRASH:
        folder.feed(raw)
    assert folder.feed("still running") == [
        "[the same traceback again: ModuleNotFoundError: No module named 'mxnet_tools']", "still running"]


def test_chained_tracebacks_are_one_block_and_a_held_repeat_shows_after_a_while():
    clock = Clock()
    folder = TracebackFolder(clock)
    chained = ["Traceback (most recent call last):", '  File "a.py", line 1, in f', "KeyError: 'x'", "",
               "During handling of the above exception, another exception occurred:", "",
               "Traceback (most recent call last):", '  File "a.py", line 3, in f',
               "ValueError: wrapped <object at 0x7f00aa>"]
    for raw in chained:
        assert folder.feed(raw) == []
    clock.now += 2
    assert folder.tick() == chained
    for raw in chained[:-1] + ["ValueError: wrapped <object at 0x7f11bb>"]:  # another address, same error
        folder.feed(raw)
    clock.now += 2
    assert folder.tick() == []  # held as a repeat
    clock.now += 2
    assert folder.tick() == ["[the same traceback again: ValueError: wrapped <object at 0x7f11bb>]"]


def test_crashes_are_diagnosed_from_their_traceback():
    crash = parse_traceback(IMPORT_CRASH)
    assert crash.error == "ModuleNotFoundError: No module named 'mxnet_tools'" and crash.at_import
    assert "install the package that provides 'mxnet_tools'" in crash.hint
    device = parse_traceback(IMPORT_CRASH[:-1] + ["ModuleNotFoundError: No module named 'openvino.inference_engine'"])
    assert "DeepLens device had" in device.hint and "openvino.Core" in device.hint
    env = parse_traceback(["Traceback (most recent call last):", '  File "/p/l.py", line 9, in loop',
                           "    table = os.environ['TABLE']", '  File "<frozen os>", line 679, in __getitem__',
                           "KeyError: 'TABLE'"])
    assert env.env_variable == "TABLE" and not env.at_import and "--env TABLE=VALUE" in env.hint
    plain_key = parse_traceback(["Traceback (most recent call last):", '  File "/p/l.py", line 9, in loop',
                                 "    labels['cat']", "KeyError: 'cat'"])
    assert plain_key.env_variable is None and plain_key.hint is None


def test_crash_history_counts_repeats_and_notes_a_loop_at_import():
    history, crash = CrashHistory(loop_after=3), parse_traceback(IMPORT_CRASH)
    verdicts = [history.record(crash.error, crash) for _ in range(4)]
    assert [v.repeats for v in verdicts] == [0, 1, 2, 3]
    assert [v.failing for v in verdicts] == [False, False, True, False]
    assert verdicts[3].note.startswith("failing at import: ModuleNotFoundError")
    assert history.record("status 1: other", None).repeats == 0 and history.note is None


def test_watchdog_clock_starts_at_first_progress_or_after_the_startup_allowance():
    clock, value = Clock(), [0]
    dog = ProgressWatchdog(lambda: value[0], timeout=30, startup_grace=120, clock=clock)
    dog.start()
    clock.now += 140
    assert not dog.hung()  # still within 120 + 30 s of start-up
    clock.now += 11
    assert dog.hung() and dog.age() == pytest.approx(151)
    dog.start()
    clock.now += 5
    value[0] += 1
    assert not dog.hung()
    clock.now += 29
    assert not dog.hung() and dog.age() == pytest.approx(29)
    clock.now += 2
    assert dog.hung()
    value[0] = 0  # the counters were cleared: that is a change too
    assert not dog.hung()
    with pytest.raises(ValueError):
        ProgressWatchdog(lambda: 0, timeout=0)


def _cgroup_tree(root: Path, subtree: str, own: str = "/user.slice/app.scope") -> Path:
    (root / "cgroup.controllers").parent.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpu io memory pids\n")
    folder = root / own.lstrip("/")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cgroup.subtree_control").write_text(subtree)
    (root / "self").write_text(f"0::{own}\n")
    return folder


def test_cgroup_delegation_is_detected_from_the_hierarchy(tmp_path):
    assert find_cgroup_parent(tmp_path / "v1", tmp_path / "none")[0] is None
    parent, why = find_cgroup_parent(tmp_path / "v1", tmp_path / "none")
    assert "not a cgroup v2 hierarchy" in why
    root = tmp_path / "v2"
    _cgroup_tree(root, "cpu pids\n")
    parent, why = find_cgroup_parent(root, root / "self")
    assert parent is None and "memory controller is not delegated" in why
    folder = _cgroup_tree(root, "cpu memory pids\n")
    assert find_cgroup_parent(root, root / "self") == (folder, "")
