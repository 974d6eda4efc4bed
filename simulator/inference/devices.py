"""One OpenVINO Core per process, the device a Lambda's ``loading_config`` maps to, compile settings, and
compiles that take turns on the model cache with other processes.

``{"GPU": 1}`` runs on OpenVINO's GPU device when this machine has one, on the CPU otherwise (said once).
``DEEPLENS_SIM_PRECISION`` (``f32``, ``f16``, ``bf16``) sets the inference precision hint; tests set ``f32``
because on CPUs with AMX the CPU plugin otherwise runs bf16 and numbers differ from run to run of other machines.
``DEEPLENS_SIM_CPU_THREADS`` (set by ``--cpu-threads``; a fleet sets it to the cores per device) caps the CPU
plugin's inference threads and lets the system place them instead of pinning them to cores: Lambdas that share
the cores then take turns instead of each spreading every layer over all of them and waiting on one another.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import openvino as ov
from filelock import FileLock, Timeout

from simulator.config import CPU_THREADS_ENV as THREADS_ENV

log = logging.getLogger(__name__)

COMPILE_LOCK_WAIT_S = 120.0  # s another process may hold the model cache before a compile goes on without it


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


def cpu_threads() -> int | None:
    """The CPU inference threads asked for by ``DEEPLENS_SIM_CPU_THREADS`` (None: OpenVINO's choice)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{THREADS_ENV}={raw!r}: expected a whole number of threads, 1 or more")
    return int(raw)


def compile_config(device: str = "CPU") -> dict[str, str]:
    """Compile settings: latency mode, the precision hint if one is set, and on the CPU the thread cap if one is
    set (with the threads left unpinned)."""
    precision = os.environ.get("DEEPLENS_SIM_PRECISION")
    config: dict[str, str] = {"PERFORMANCE_HINT": "LATENCY"}
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    threads = cpu_threads()
    if threads is not None and device == "CPU":
        config["INFERENCE_NUM_THREADS"] = str(threads)
        config["ENABLE_CPU_PINNING"] = "NO"
    return config


def compile_model(target: ov.Model | str, device: str, config: dict[str, str] | None = None,
                  with_core: ov.Core | None = None) -> ov.CompiledModel:
    """``Core.compile_model`` (on this process's core unless ``with_core``), with OpenVINO's model cache folder
    locked against other processes while it compiles into it or imports from it.

    OpenVINO's cache is not safe across processes: one that looks up a blob another is still writing cannot
    import it and removes it, and the writer then fails ("cannot set permissions: No such file or directory").
    Devices of a fleet, or Lambdas restarted together, compile the same model at the same moment. Here they take
    turns: the first compiles and writes the blob, the others then import it. After ``COMPILE_LOCK_WAIT_S`` (the
    holder stopped in a debugger, say) the compile goes on without the cache, and says so."""
    ov_core = with_core or core()
    config = dict(compile_config(device) if config is None else config)
    folder = config.get("CACHE_DIR", ov_core.get_property("CACHE_DIR"))
    if not folder:
        return ov_core.compile_model(target, device, config)
    Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(Path(folder) / ".compile.lock", timeout=COMPILE_LOCK_WAIT_S):
            return ov_core.compile_model(target, device, config)
    except Timeout:
        log.warning("OpenVINO's model cache %s stayed locked by another process for %g s: compiling without it",
                    folder, COMPILE_LOCK_WAIT_S)
        return ov_core.compile_model(target, device, {**config, "CACHE_DIR": ""})
