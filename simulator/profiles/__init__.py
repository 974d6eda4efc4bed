"""Hardware profiles: what device the simulator pretends to be (camera format, speed).

    load_profile(name_or_path) -> Profile            available_profiles() -> list[str]
    graph_costs(graph) -> GraphCosts                 predict_latency_ms(graph, profile, device, precision) -> Prediction
    Pacer(profile, predicted_ms)                     make_pacer(graph, profile, device) -> Pacer | None

The performance-model names are imported lazily (they pull in OpenVINO).
"""

from simulator.profiles.loader import available_profiles, load_profile
from simulator.profiles.schema import CameraSpec, Profile

_LAZY = {"graph_costs": "costs", "GraphCosts": "costs", "OpCost": "costs", "predict_latency_ms": "perf",
         "Prediction": "perf", "Pacer": "pacing", "PaceStats": "pacing", "make_pacer": "pacing"}

__all__ = ["CameraSpec", "Profile", "available_profiles", "load_profile", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"simulator.profiles.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'simulator.profiles' has no attribute {name!r}")
