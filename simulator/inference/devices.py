"""One OpenVINO Core per process, the device a Lambda's ``loading_config`` maps to, and compile settings.

``{"GPU": 1}`` runs on OpenVINO's GPU device when this machine has one, on the CPU otherwise (said once).
``DEEPLENS_SIM_PRECISION`` (``f32``, ``f16``, ``bf16``) sets the inference precision hint; tests set ``f32``
because on CPUs with AMX the CPU plugin otherwise runs bf16 and numbers differ from run to run of other machines.
"""

from __future__ import annotations

import functools
import logging
import os

import openvino as ov

log = logging.getLogger(__name__)


@functools.cache
def core() -> ov.Core:
    from simulator.inference.store import ov_cache_dir

    c = ov.Core()
    c.set_property({"CACHE_DIR": str(ov_cache_dir())})
    return c


@functools.cache
def resolve_device(requested: str) -> str:
    """'GPU' if asked for and present, else 'CPU' (logged once per process)."""
    available = core().available_devices
    if requested == "GPU":
        if any(d.startswith("GPU") for d in available):
            return "GPU"
        log.warning("no OpenVINO GPU device on this machine (have: %s): models asked for the GPU run on the CPU",
                    ", ".join(available))
    return "CPU"


def compile_config() -> dict[str, str]:
    """Compile settings for every device: latency mode, and the precision hint if one is set."""
    precision = os.environ.get("DEEPLENS_SIM_PRECISION")
    config: dict[str, str] = {"PERFORMANCE_HINT": "LATENCY"}
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    return config


def compile_model(model: ov.Model | str, device: str) -> ov.CompiledModel:
    return core().compile_model(model, device, compile_config())
