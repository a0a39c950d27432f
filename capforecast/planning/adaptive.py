"""Calibration that adapts: per-lead conformal bounds whose level moves after every observed outcome.

A plan for step ``t`` made ``h`` steps ahead holds ``estimate + bound`` GPUs. The bound comes from the
*scores* of earlier estimates whose demand has been observed (``d - f`` in GPUs, or ``d / f - 1``), each
divided by the spread of the scores at its lead (steps ahead, in buckets of ``lead_bucket`` steps), so one
conformal rank serves every lead and a day-ahead step gets a wider bound than the next hour (normalised
split conformal, per lead).

The rank is not fixed. Adaptive conformal inference (Gibbs & Candès, 2021) moves the miss level after each
observed outcome: ``alpha_{t+1} = alpha_t + gamma * (target - err_t)``, where ``err_t`` is 1 when the
demand of step ``t`` exceeded the capacity planned for it. A pool that starts missing tightens itself
(lower ``alpha``, a higher rank), one that holds its target with room to spare loosens back to the target
cost; over ``T`` outcomes the realised miss share is within ``(1 + gamma) / (gamma * T)`` of the target
whatever the drift. When ``alpha`` falls to 0 or below, the largest score seen is used (no multiplier cap:
a target that only ``max_nodes`` stops is reported by the planner as capped).

Examples
--------
>>> aci = AdaptiveLevel(target=0.05, gamma=0.01)
>>> aci.observe(True); round(aci.alpha, 4)
0.0405
>>> aci.observe(False); round(aci.alpha, 4)
0.0410
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["KINDS", "AdaptiveLevel", "LeadBound", "lead_bound"]

#: score kinds: additive GPUs (``d - f``) and multiplicative (``d / f - 1``)
KINDS = ("additive", "multiplicative")


@dataclass
class AdaptiveLevel:
    """The miss level of adaptive conformal inference: starts at ``target``, moves by ``gamma`` per outcome.

    ``alpha`` is kept within ``[-floor, ceiling]``: ``floor`` (default ``target``) so a long run of misses (a
    pool planned against ``max_nodes``) cannot make it deaf for the rest of the week, ``ceiling`` (default 1)
    so a calm spell does not loosen the plan beyond what one burst can tolerate.
    """

    target: float
    gamma: float
    floor: float | None = None
    ceiling: float = 1.0
    alpha: float = field(init=False)

    def __post_init__(self) -> None:
        self.alpha = float(self.target)

    def observe(self, missed: bool) -> None:
        """One observed step: ``missed`` when its demand exceeded the capacity planned for it."""
        low = -(self.target if self.floor is None else self.floor)
        self.alpha = float(np.clip(self.alpha + self.gamma * (self.target - float(missed)), low, self.ceiling))

    @property
    def level(self) -> float:
        """The conformal level to plan at now (1.0: the largest score seen)."""
        return float(min(max(1.0 - self.alpha, 0.0), 1.0))


@dataclass(frozen=True)
class LeadBound:
    """A calibrated bound: ``apply(f, leads)`` is the demand to plan for estimates ``f`` at ``leads``."""

    kind: str
    bound: float
    scales: np.ndarray  # spread per lead bucket
    lead_bucket: int

    def apply(self, forecast: np.ndarray, leads: np.ndarray) -> np.ndarray:
        f = np.maximum(np.asarray(forecast, float), 0.0)
        s = self.scales[np.minimum(_bucket(leads, self.lead_bucket), len(self.scales) - 1)]
        if self.kind == "additive":
            return np.maximum(f + self.bound * s, 0.0)
        return np.maximum(f * (1.0 + self.bound * s), 0.0)

    def headroom(self) -> float:
        """The mean bound over the lead buckets, in the kind's unit (GPUs, or a share of the estimate)."""
        return float(self.bound * np.mean(self.scales))


def _bucket(leads: np.ndarray, width: int) -> np.ndarray:
    return (np.maximum(np.asarray(leads, int), 1) - 1) // max(int(width), 1)


def scores(kind: str, forecast: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """The smallest bound that would have held each demand (NaN where the demand is missing)."""
    f, d = np.maximum(np.asarray(forecast, float), 0.0), np.asarray(demand, float)
    if kind == "additive":
        return d - f
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, d / f - 1.0, np.where(d > 0, np.inf, -1.0))


def lead_bound(
    kind: str, forecast: np.ndarray, demand: np.ndarray, leads: np.ndarray, level: float, *,
    lead_bucket: int = 6, n_buckets: int | None = None, min_bound: float | None = None,
) -> LeadBound:
    """Calibrate a :class:`LeadBound` at ``level`` on aligned past estimates, demands and leads.

    Each bucket's spread is the mean absolute finite score at its leads (at least a quarter of the overall
    one, so a bucket of exact hits does not make a bound of zero); the bound is the conformal rank
    ``ceil((n + 1) * level)`` of the normalised scores, their largest when the level is above ``n / (n + 1)``.
    A score of ``inf`` (a zero estimate that met demand, multiplicative) gives an infinite bound: that kind
    then cannot plan this pool and the caller uses another.
    """
    sc = scores(kind, forecast, demand)
    seen = ~np.isnan(sc)
    sc, b = sc[seen], _bucket(np.asarray(leads)[seen], lead_bucket)
    nb = int(n_buckets if n_buckets is not None else (b.max() + 1 if b.size else 1))
    finite = np.isfinite(sc)
    overall = float(np.mean(np.abs(sc[finite]))) if finite.any() else 1.0
    overall = overall if overall > 0 else 1.0
    scales = np.empty(nb)
    for i in range(nb):
        mine = finite & (b == i)
        scales[i] = max(float(np.mean(np.abs(sc[mine]))) if mine.any() else overall, 0.25 * overall)
    if not sc.size:
        return LeadBound(kind, 0.0, scales, lead_bucket)
    z = np.sort(sc / scales[np.minimum(b, nb - 1)])
    k = int(np.clip(np.ceil((z.size + 1) * level) - 1, 0, z.size - 1))
    bound = float(z[k]) if min_bound is None else max(float(z[k]), min_bound)
    return LeadBound(kind, bound, scales, lead_bucket)


def choose(
    estimates: Sequence[np.ndarray], demand: np.ndarray, leads: np.ndarray, level: float, cost, *,  # noqa: ANN001
    kinds: Sequence[str] = KINDS, lead_bucket: int = 6, n_buckets: int | None = None,
    min_bound: float | None = None,
) -> tuple[int, LeadBound]:
    """The estimate row and bound whose calibrated plan ``cost(planned)`` was cheapest on the window."""
    best: tuple[float, int, LeadBound] | None = None
    for i, est in enumerate(estimates):
        for kind in kinds:
            lb = lead_bound(kind, est, demand, leads, level, lead_bucket=lead_bucket, n_buckets=n_buckets,
                            min_bound=min_bound)
            if not np.isfinite(lb.bound):
                continue
            c = float(cost(lb.apply(est, leads)))
            if best is None or c < best[0]:
                best = (c, i, lb)
    if best is None:  # every kind infinite cannot happen (additive scores are finite), but stay safe
        lb = lead_bound("additive", estimates[0], demand, leads, level, lead_bucket=lead_bucket, n_buckets=n_buckets)
        return 0, lb
    return best[1], best[2]
