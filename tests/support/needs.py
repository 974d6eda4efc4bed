"""One policy for tests that need what a machine may lack (the network to PyPI, a Debian package such as
mosquitto or chromium): on a developer's machine they are skipped with the reason; under ``CI=true`` they fail,
because CI installs everything and a skip there would hide a broken set-up.

Tests that fetch models from PyPI on first use carry the ``network`` marker (``pytest -m "not network"`` runs
the rest offline)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, why: str) -> NoReturn:
    """Skip (developer machine) or fail (CI) a test that cannot run here."""
    if in_ci():
        pytest.fail(f"{what} is required in CI: {why}")
    pytest.skip(f"{what} unavailable: {why}")
