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
0.041
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["KINDS", "AdaptiveLevel", "LeadBound", "lead_bound", "window_level"]

#: score kinds: additive GPUs (``d - f``) and multiplicative (``d / f - 1``)
KINDS = ("additive", "multiplicative")


def _binomial_sf(k: int, n: int, p: float) -> float:
    """``P(X > k)`` for ``X ~ Binomial(n, p)``, summed in log space."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0 if k < n else 0.0
    lp, lq = math.log(p), math.log1p(-p)
    head = sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq)
               for i in range(min(k, n) + 1))
    return max(0.0, 1.0 - head)


def window_level(target: float, steps: int, risk: float = 0.2) -> float:
    """The per-step miss level at which the busy share of ``steps`` steps exceeds ``target`` with chance ``risk``.

    A busy target is judged over a window (the simulator's test week: 168 hourly steps), and the share allowed
    is whole steps: ``floor(target * steps)`` of them (1 of 168 for 1 %, 8 for 5 %). A plan that misses each
    step with probability ``p``, independently, exceeds the target when more steps than that miss, so the level
    returned solves ``P(Binomial(steps, p) > floor(target * steps)) = risk`` (never above ``target``). With 168
    steps and ``risk`` 0.2 that is 77 % of a 5 % target and 49 % of a 1 % one: the same chance of a missed
    week at both targets, where one fixed share of the target would miss a 1 % week twice as often.

    Examples
    --------
    >>> round(window_level(0.05, 168) / 0.05, 2), round(window_level(0.01, 168) / 0.01, 2)
    (0.77, 0.49)
    """
    allowed = int(math.floor(target * steps + 1e-9))
    if steps < 1 or _binomial_sf(allowed, steps, target) <= risk:
        return float(target)
    lo, hi = 0.0, float(target)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _binomial_sf(allowed, steps, mid) < risk else (lo, mid)
    return lo


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
