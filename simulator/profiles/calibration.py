"""Fit the hardware profiles' coefficients to the published figures (``published.yaml``), and check them.

The model (features.py) is linear in its coefficients: 1/efficiency per kind of op, memory bandwidth / stream
rate for activations and for weights, per-op and per-inference overheads. The fit has two stages:

1. a shared shape: one set of relative efficiencies (compute) and relative stream rates (memory) for every
   device, times a compute scale and a memory scale per (profile, device), plus per-device overheads - fitted
   by alternating bounded least squares on the relative error of every figure;
2. per (profile, device), bounded least squares on its own figures, pulled towards its stage-1 coefficients
   with a strength chosen by leave-one-out over those same figures (a device with few figures, like the Pi 5,
   keeps the shared shape at its own level).

Both stages use a robust loss (``LOSS = "soft_l1"``): iteratively reweighted least squares in which a figure's
weight is 1 / sqrt(1 + (r / F_SCALE)^2), r = log(predicted / published): nearly 0.9 within ±10 %, 0.44 for a
figure missed by a factor of 1.5, 0.28 by a factor of 2. ``loss="squared"`` gives the plain least-squares fit
(every weight 1).

Nothing in either stage looks at a figure outside the set it is given: ``cross_validate`` fits on one half and
predicts the other::

    python -m simulator.profiles.calibration            # prints the fitted profile fields
    python -m simulator.profiles.calibration --write    # and writes them into hardware_profiles/*.yaml
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.optimize import lsq_linear

from simulator.profiles.costs import GraphCosts, graph_costs
from simulator.profiles.features import TERMS, coefficients, description, graph_terms
from simulator.profiles.loader import load_profile
from simulator.profiles.published import Hardware, Resolved, load_figures
from simulator.profiles.refnets import REFERENCE_NETS
from simulator.profiles.schema import CpuSpec, Profile

SEED = 20241201  # the split into halves is fixed: the same figures are held out every time
# The fit ties the ten terms of features.TERMS to eight parameters (TIES: term -> parameter): 3x3 stride-1
# convolutions (Winograd); other dense kernels and 1x1 (im2col / GEMM); matmul; depthwise and every other vector
# op (streaming SIMD); activation traffic; weight traffic; per-op and per-inference overhead.
PARAMS = ("conv3x3", "conv", "gemm", "streaming", "activations", "weights", "ops", "inference")
TIES = {"conv3x3": 0, "conv": 1, "pointwise": 1, "gemm": 2, "depthwise": 3, "vector": 3, "activations": 4,
        "weights": 5, "ops": 6, "inference": 7}
COMPUTE, MEMORY, OVERHEAD = (0, 1, 2, 3), (4, 5), (6, 7)
# bounds: efficiencies 0.01..1 (up to 4 for 3x3 stride-1: Winograd needs fewer multiplications than counted),
# activations at up to 20x memory bandwidth (caches), weights at up to 1.5x (read once), overheads >= 0
LOWER = np.array([0.25, 1, 1, 1, 0.05, 0.67, 0.0, 0.0])
UPPER = np.array([100, 100, 100, 100, 20, 20, 2000, 50.0])
FLOOR = np.array([1, 1, 1, 1, 0.1, 0.1, 1.0, 0.1])  # scale of the pull where a coefficient is ~0
PRIOR_WEIGHTS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # chosen per device by leave-one-out on its fitted figures
MIN_OWN = 4  # a device with fewer figures gets no overheads of its own in stage 1 (it takes the shared shape)
TIE = np.zeros((len(TERMS), len(PARAMS)))
for _term, _param in TIES.items():
    TIE[TERMS.index(_term), _param] = 1.0

LOSSES = ("soft_l1", "squared")
LOSS = "soft_l1"  # the fit the shipped profiles come from
F_SCALE = 0.2  # log ratio where the soft-L1 loss turns from quadratic to linear (log 1.25 = 0.22)
IRLS_ROUNDS = 15

FIGURES: tuple[Resolved, ...] = load_figures()


@cache
def reference_costs(net: str) -> GraphCosts:
    return graph_costs(REFERENCE_NETS[net]())


def measured_profile(fig: Resolved, profile: Profile | None = None) -> Profile:
    """The profile as the figure's hardware was (another clock, a stand-in GPU), coefficients unchanged."""
    return hardware_profile(fig.hardware, profile)


def hardware_profile(hw: Hardware, profile: Profile | None = None) -> Profile:
    """The profile (``hw.profile``'s, or the given one) as ``hw`` is, coefficients unchanged."""
    profile = profile or load_profile(hw.profile)
    spec = profile.described_device(hw.device)
    changes: dict[str, float] = {}
    if hw.clock_ghz is not None:
        changes["boost_ghz" if isinstance(spec, CpuSpec) else "clock_ghz"] = hw.clock_ghz
        if isinstance(spec, CpuSpec):
            changes["base_ghz"] = min(spec.base_ghz, hw.clock_ghz)
    if hw.execution_units is not None:
        changes["execution_units"] = hw.execution_units
    if hw.fp32_flops_per_eu_cycle is not None:
        changes["fp32_flops_per_eu_cycle"] = hw.fp32_flops_per_eu_cycle
    update: dict[str, object] = {}
    if hw.memory_bandwidth_gbps is not None:  # the fitted stream rates are relative to the memory system
        ratio = hw.memory_bandwidth_gbps / profile.bandwidth_gbps()
        changes.update({k: getattr(spec, k) * ratio for k in ("stream_gbps", "weight_gbps") if getattr(spec, k)})
        update["memory_bandwidth_gbps"] = hw.memory_bandwidth_gbps
    update["cpu" if hw.device == "CPU" else "gpu"] = spec.model_copy(update=changes)
    return profile.model_copy(update=update)


def figure_terms(fig: Resolved) -> np.ndarray:
    """The model terms (features.TERMS) of the figure's network on the figure's hardware."""
    return _terms(fig.net, fig.hardware, fig.runtime.precision).copy()


@cache
def _terms(net: str, hardware: Hardware, precision: str) -> np.ndarray:
    profile = hardware_profile(hardware)
    return graph_terms(reference_costs(net), profile.described_device(hardware.device), precision,
                       profile.bandwidth_gbps())


def predicted_ms(fig: Resolved, profile: Profile | None = None) -> float:
    """The figure as the (shipped, or given) profile predicts it, on the figure's hardware."""
    measured = measured_profile(fig, profile)
    spec = measured.described_device(fig.hardware.device)
    theta = coefficients(spec, measured.bandwidth_gbps())
    return float(figure_terms(fig) @ theta * 1e3)


def figure_weights(predicted: np.ndarray, ms: np.ndarray, loss: str) -> np.ndarray:
    """Each figure's weight in the next round of least squares: 1 for ``squared``, the soft-L1 weight of
    log(predicted / published) for ``soft_l1``."""
    if loss == "squared":
        return np.ones(len(ms))
    if loss != "soft_l1":
        raise ValueError(f"unknown loss {loss!r} (one of {', '.join(LOSSES)})")
    r = np.log(np.maximum(predicted, 1e-12) / ms)
    return 1 / np.sqrt(1 + (r / F_SCALE) ** 2)


def solve(terms: np.ndarray, ms: np.ndarray, prior: np.ndarray | None = None, weight: float = 0.1,
          loss: str = "squared") -> np.ndarray:
    """Parameters minimising the (robust, see ``figure_weights``) relative error within bounds. With a ``prior``,
    also the squared relative distance to ``scale x prior`` with a free scale: the prior fixes the shape (how the
    parameters relate), the figures fix the level."""
    z = terms @ TIE * 1e3
    w = np.ones(len(ms))
    for _ in range(1 if loss == "squared" else IRLS_ROUNDS):
        p = _solve_weighted(z, ms, w, prior, weight)
        w = figure_weights(z @ p, ms, loss)
    return p


def _solve_weighted(z: np.ndarray, ms: np.ndarray, w: np.ndarray, prior: np.ndarray | None,
                    weight: float) -> np.ndarray:
    sw = np.sqrt(w)
    a = z / ms[:, None] * sw[:, None]
    b: np.ndarray = sw
    if prior is None:
        return lsq_linear(a, b, bounds=(LOWER, UPPER), method="bvls").x
    n = len(PARAMS)
    scale = np.maximum(prior, FLOOR)
    pull = np.sqrt(weight) * np.hstack([np.diag(1 / scale), -(prior / scale)[:, None]])
    a = np.vstack([np.hstack([a, np.zeros((len(ms), 1))]), pull])
    b = np.concatenate([b, np.zeros(n)])
    lower, upper = np.append(LOWER, 0.0), np.append(UPPER, np.inf)
    return lsq_linear(a, b, bounds=(lower, upper), method="bvls").x[:n]


def _loo_weight(terms: np.ndarray, ms: np.ndarray, prior: np.ndarray) -> float:
    """The prior weight with the least leave-one-out error over these figures (no other figure is looked at)."""
    if len(ms) < 3:  # nothing to leave out: a middle weight
        return 1.0
    best, best_err = PRIOR_WEIGHTS[-1], np.inf
    for weight in PRIOR_WEIGHTS:
        err = 0.0
        for i in range(len(ms)):
            keep = np.arange(len(ms)) != i
            p = solve(terms[keep], ms[keep], prior, weight)
            err += np.log(terms[i] @ TIE @ p * 1e3 / ms[i]) ** 2
        if err < best_err:
            best, best_err = weight, err
    return best


def shared_fit(data: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]], kin: dict[tuple[str, str], str],
               rounds: int = 40, loss: str = LOSS) -> dict:
    """Stage 1: parameters = shape x per-device scale (compute, memory) plus per-device overheads. A device with
    too few figures takes one level, and the memory/compute balance of the best-covered device of the same
    runtime (``kin``). The figures' weights (``figure_weights``) are renewed after every round from the third."""
    targets = sorted(data)
    shape = np.ones(len(PARAMS))
    scales = {t: np.array([1.0, 1.0, 0.0, 0.0]) for t in targets}  # compute, memory, ops, inference
    sw = {t: np.ones(len(data[t][1])) for t in targets}  # square roots of the figures' weights
    for rnd in range(rounds):
        rows, rhs = [], []
        for t in targets:
            x, y = data[t]
            z = x @ TIE * 1e3
            c, m, o, i = scales[t]
            rows.append(np.hstack([z[:, list(COMPUTE)] * c, z[:, list(MEMORY)] * m]) * (sw[t] / y)[:, None])
            rhs.append((1 - (z[:, OVERHEAD[0]] * o + z[:, OVERHEAD[1]] * i) / y) * sw[t])
        lo = np.concatenate([LOWER[list(COMPUTE)], LOWER[list(MEMORY)]]) * 0
        sol = lsq_linear(np.vstack(rows), np.concatenate(rhs), bounds=(lo, np.inf), method="bvls").x
        sol = np.maximum(sol, 1e-9)
        shape[list(COMPUTE)] = sol[:len(COMPUTE)] / sol[COMPUTE.index(1)]  # normalised: conv shape = 1
        shape[list(MEMORY)] = sol[len(COMPUTE):] / sol[len(COMPUTE)]  # activations shape = 1
        for t in targets:
            x, y = data[t]
            z = x @ TIE * 1e3
            a = np.column_stack([z[:, list(COMPUTE)] @ shape[list(COMPUTE)], z[:, list(MEMORY)] @ shape[list(MEMORY)],
                                 z[:, OVERHEAD[0]], z[:, OVERHEAD[1]]]) / y[:, None]
            upper = np.array([np.inf, np.inf, UPPER[OVERHEAD[0]], UPPER[OVERHEAD[1]]])
            if len(y) >= MIN_OWN:
                scales[t] = lsq_linear(a * sw[t][:, None], sw[t], bounds=(np.zeros(4), upper), method="bvls").x
        for t in targets:
            x, y = data[t]
            if len(y) < MIN_OWN:  # too few figures to separate compute from memory: one level, no overheads
                peers = [p for p in targets if kin[p] == kin[t] and len(data[p][1]) >= MIN_OWN]
                peer = max(peers, key=lambda p: len(data[p][1]), default=None)
                balance = scales[peer][1] / max(scales[peer][0], 1e-12) if peer else 1.0
                z = x @ TIE * 1e3
                col = z[:, list(COMPUTE)] @ shape[list(COMPUTE)] + balance * (z[:, list(MEMORY)] @ shape[list(MEMORY)])
                level = lsq_linear((col / y)[:, None], np.ones(len(y)), bounds=(0, np.inf)).x[0]
                scales[t] = np.array([level, level * balance, 0.0, 0.0])
        if rnd >= 2:
            for t in targets:
                sw[t] = np.sqrt(figure_weights(data[t][0] @ TIE @ _params(shape, scales[t]) * 1e3, data[t][1], loss))
    return {t: np.clip(_params(shape, scales[t]), LOWER, UPPER) for t in targets}


def _params(shape: np.ndarray, scales: np.ndarray) -> np.ndarray:
    c, m, o, i = scales
    p = shape.copy()
    p[list(COMPUTE)] *= c
    p[list(MEMORY)] *= m
    p[list(OVERHEAD)] = [o, i]
    return p


def fit_params(figures: tuple[Resolved, ...] | list[Resolved], loss: str = LOSS) -> dict[tuple[str, str], np.ndarray]:
    """Fitted parameters (``PARAMS``) per (profile, device), from ``figures`` only. The pull towards stage 1 is
    chosen by the squared leave-one-out error of the plain least-squares fit (fast); the fit itself uses ``loss``."""
    data, kin = {}, {}
    for target in sorted({f.target for f in figures}):
        group = [f for f in figures if f.target == target]
        data[target] = (np.array([figure_terms(f) for f in group]), np.array([f.ms for f in group]))
        kin[target] = f"{group[0].hardware.device}:{group[0].runtime.name}"
    priors = shared_fit(data, kin, loss=loss)
    return {t: solve(x, y, priors[t], _loo_weight(x, y, priors[t]), loss) for t, (x, y) in data.items()}


def fit(figures: tuple[Resolved, ...] | list[Resolved], loss: str = LOSS) -> dict[tuple[str, str], np.ndarray]:
    """Model coefficients (one per features.TERMS) per (profile, device), from ``figures`` only."""
    return {target: TIE @ p for target, p in fit_params(figures, loss).items()}


def halves(figures: tuple[Resolved, ...] = FIGURES, seed: int = SEED) -> tuple[list[Resolved], list[Resolved]]:
    """A fixed random split into two halves, stratified by (profile, device) so each half has every device."""
    rng = np.random.default_rng(seed)
    a: list[Resolved] = []
    b: list[Resolved] = []
    for target in sorted({f.target for f in figures}):
        group = [f for f in figures if f.target == target]
        order = rng.permutation(len(group))
        first = bool(rng.integers(2))
        for rank, i in enumerate(order):
            (a if (rank % 2 == 0) == first else b).append(group[i])
    return sorted(a, key=lambda f: f.index), sorted(b, key=lambda f: f.index)


@dataclass(frozen=True)
class Check:
    figure: Resolved
    predicted_ms: float
    fitted_on: str  # "A", "B" (held out from the other half's fit) or "all"

    @property
    def ratio(self) -> float:
        return self.predicted_ms / self.figure.ms

    @property
    def within_25(self) -> bool:
        return 0.75 <= self.ratio <= 1.25


def predict_with(theta: dict[tuple[str, str], np.ndarray], fig: Resolved) -> float:
    return float(figure_terms(fig) @ theta[fig.target] * 1e3)


def cross_validate(figures: tuple[Resolved, ...] = FIGURES, seed: int = SEED, loss: str = LOSS) -> list[Check]:
    """Fit on one half, predict the other half, and the reverse: one held-out prediction per figure."""
    a, b = halves(figures, seed)
    theta_a, theta_b = fit(a, loss), fit(b, loss)
    out = [Check(f, predict_with(theta_a, f), "A") for f in b] + [Check(f, predict_with(theta_b, f), "B") for f in a]
    return sorted(out, key=lambda c: c.figure.index)


def in_sample(figures: tuple[Resolved, ...] = FIGURES, loss: str = LOSS) -> list[Check]:
    theta = fit(figures, loss)
    return [Check(f, predict_with(theta, f), "all") for f in figures]


def fit_all(figures: tuple[Resolved, ...] = FIGURES, loss: str = LOSS) -> dict[tuple[str, str], dict]:
    """The profile fields (efficiency, stream_gbps, op/inference overheads) fitted to every figure."""
    out = {}
    for target, theta in fit(figures, loss).items():
        profile = load_profile(target[0])
        out[target] = description(theta, profile.bandwidth_gbps())
    return out


def summary(checks: list[Check]) -> dict[str, float]:
    ratios = np.array([c.ratio for c in checks])
    err = np.abs(np.log(ratios))
    return {"n": len(checks), "within_25": float(np.mean([c.within_25 for c in checks])),
            "median_abs_pct": float(np.median(np.abs(ratios - 1)) * 100), "worst_ratio_low": float(ratios.min()),
            "worst_ratio_high": float(ratios.max()), "rms_log": float(np.sqrt(np.mean(err ** 2)))}


def main(argv: list[str] | None = None) -> int:
    import argparse

    from simulator.profiles.fitted_fields import write_fitted

    ap = argparse.ArgumentParser(prog="python -m simulator.profiles.calibration",
                                 description="Refit the profiles' coefficients to the published figures.")
    ap.add_argument("--write", action="store_true", help="write them into hardware_profiles/*.yaml (in place)")
    args = ap.parse_args(argv)
    fitted = fit_all()
    for (profile, device), fields in fitted.items():
        eff = fields["efficiency"].model_dump(exclude_none=True)
        print(f"{profile} {device}: efficiency {eff}")
        print(f"    stream_gbps {fields['stream_gbps']}  weight_gbps {fields['weight_gbps']}  "
              f"op_overhead_us {fields['op_overhead_us']}  inference_overhead_ms {fields['inference_overhead_ms']}")
    if args.write:
        changed = write_fitted(fitted)
        print("wrote " + ", ".join(p.name for p in changed) if changed else "the profiles already hold these values")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
