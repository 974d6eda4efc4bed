"""The hardware profile's pacing for a loaded model: ``doInference`` returns no sooner than the profile predicts."""

from __future__ import annotations

import logging

from simulator.inference.model import InferenceModel

log = logging.getLogger("awscam")


def pacer_for(model: InferenceModel, profile_name: str, device: str, model_path: str):
    """The profile's pacer for this model, or None for the host profile (or when it cannot be predicted)."""
    from simulator.profiles.pacing import make_pacer
    from simulator.profiles.perf import precision_from_name

    try:
        return make_pacer(model.graph, profile_name, device, precision_from_name(model_path))
    except Exception as exc:  # noqa: BLE001 - pacing is advisory; inference must go on
        log.warning("no latency prediction for this model on profile %s: %s", profile_name, exc)
        return None
