"""Where the simulator keeps its files: per-user data, cache and per-run runtime folders.

Every location can be moved with an environment variable, which is what the tests do:
``DEEPLENS_SIM_HOME`` (data: thing name, shadows, artifacts) and ``DEEPLENS_SIM_CACHE`` (downloaded models,
converted IR, OpenVINO's compiled-model cache, the demo clip).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = PROJECT_ROOT / "hardware_profiles"
PROJECTS_DIR = PROJECT_ROOT / "projects"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def data_dir() -> Path:
    """Per-user state that must survive restarts (thing name, shadows, default artifacts)."""
    override = os.environ.get("DEEPLENS_SIM_HOME")
    path = Path(override) if override else _xdg("XDG_DATA_HOME", ".local/share") / "deeplens-sim"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Per-user cache that can be deleted at any time (models, IR, compiled blobs, demo clip)."""
    override = os.environ.get("DEEPLENS_SIM_CACHE")
    path = Path(override) if override else _xdg("XDG_CACHE_HOME", ".cache") / "deeplens-sim"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_artifacts_dir() -> Path:
    """Stands in for the device's ``/opt/awscam/artifacts``."""
    path = data_dir() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_projects_dir() -> Path:
    """Projects made by ``main.py projects import`` (beside the samples in the project pickers)."""
    return data_dir() / "projects"
