"""Waiting in tests for something to become true: a generous guard, never a measurement."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_for_value(predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition",
                   every: float = 0.05) -> T:
    """``predicate()``'s first true value, polled every ``every`` s; fail the test naming ``what`` if none comes
    within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for: {what} (within {timeout:g} s)")
        time.sleep(every)


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``predicate`` every 20 ms; fail the test naming ``what`` if it is not true within ``timeout`` s."""
    wait_for_value(predicate, timeout, what, every=0.02)
