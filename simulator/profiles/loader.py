"""Find and load hardware profiles by name (``deeplens``) or by path (``my_board.yaml``)."""

from __future__ import annotations

from pathlib import Path

from simulator.configfile import load_yaml_model
from simulator.errors import ConfigError
from simulator.paths import PROFILES_DIR
from simulator.profiles.schema import Profile


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        path = candidate
    else:
        path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(available_profiles())
        raise ConfigError(f"unknown hardware profile '{name_or_path}' (no file {path})",
                          hint=f"choose one of: {known}, or give the path of your own profile YAML")
    return load_yaml_model(path, Profile)
