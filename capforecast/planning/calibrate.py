"""Turn a busy target into the headroom that meets it out of sample (split conformal calibration).

A plan holds ``ceil(f * (1 + k) / gpus_per_node)`` nodes for a forecast ``f`` of demand. On a calibration
window (backtest forecasts made exactly as the live ones are, e.g. the validation week of the simulator), each
step's *score* is the smallest headroom that would have held its demand, ``d / f - 1``. Split conformal
prediction says: with ``n`` exchangeable scores, the ``ceil((n + 1) * (1 - target_busy))``-th smallest bounds a
new step's score with probability at least ``1 - target_busy``. So "say 5 %, get <= 5 %" holds as long as the
next week behaves like the calibration window; :mod:`capforecast.planning.simulate` measures whether it did.

``additive=True`` uses ``d - f`` (GPUs) instead, which suits pools whose demand often sits at zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from capforecast.errors import PlanningError

__all__ = ["Calibration", "calibrate_headroom", "conformal_quantile"]


def conformal_quantile(scores: np.ndarray, target_busy: float) -> float:
    """The split-conformal bound on ``scores`` at miss rate ``target_busy`` (``inf`` if ``n`` is too small).

    Examples
    --------
    >>> conformal_quantile(np.arange(1, 20, dtype=float), 0.1)   # ceil(20 * 0.9) = 18th smallest
    18.0
    >>> conformal_quantile(np.arange(1, 20, dtype=float), 0.01)
    inf
    """
    if not 0 < target_busy < 1:
        raise PlanningError(
            f"target_busy must be a share between 0 and 1 (e.g. 0.05 for 5 %), got {target_busy!r}"
        )
    s = np.sort(np.asarray(scores, dtype=float)[~np.isnan(np.asarray(scores, dtype=float))])
    rank = math.ceil((s.size + 1) * (1 - target_busy))
    return float(s[rank - 1]) if 1 <= rank <= s.size else math.inf


@dataclass(frozen=True)
class Calibration:
    """Headroom calibrated for one pool: ``nodes = ceil(apply(f) / gpus_per_node)``.

    Examples
    --------
    >>> c = Calibration(headroom=0.1, additive=False, target_busy=0.05, n_scores=168)
    >>> c.apply(np.array([100.0])).tolist()
    [110.00000000000001]
    """

    headroom: float
    additive: bool
    target_busy: float
    n_scores: int

    def apply(self, forecast: np.ndarray) -> np.ndarray:
        """The demand to plan for: ``f * (1 + headroom)`` (or ``f + headroom`` GPUs when additive)."""
        f = np.maximum(np.asarray(forecast, dtype=float), 0.0)
        return f + self.headroom if self.additive else f * (1.0 + self.headroom)

    @property
    def quantile_level(self) -> float:
        """The service level the headroom stands for (``1 - target_busy``), for the planner's reason text."""
        return 1.0 - self.target_busy


def calibrate_headroom(
    forecast: np.ndarray,
    demand: np.ndarray,
    target_busy: float,
    *,
    additive: bool = False,
    max_headroom: float = 3.0,
) -> Calibration:
    """Calibrate the headroom that keeps ``demand > capacity`` at most ``target_busy`` of the time.

    ``forecast`` and ``demand`` are aligned backtest values (made before the demand was seen). Steps with
    missing demand are skipped. When the calibration window is too short for the target (fewer than
    ``1 / target_busy - 1`` steps) the bound is infinite and the largest score seen is used instead; when a
    forecast of zero met positive demand at that rank, no multiplier helps and ``max_headroom`` is used
    (multiplicative headroom is capped at ``max_headroom``; additive is in GPUs and not capped).

    Examples
    --------
    >>> f = np.full(100, 100.0)
    >>> d = np.linspace(80, 119, 100)
    >>> round(calibrate_headroom(f, d, 0.05).headroom, 3)
    0.174
    """
    f = np.asarray(forecast, dtype=float)
    d = np.asarray(demand, dtype=float)
    if f.shape != d.shape:
        raise PlanningError(
            f"forecast and demand must be aligned arrays of one shape, got {f.shape} and {d.shape}; "
            "pass the backtest forecast of each calibration step next to its actual demand"
        )
    seen = np.isfinite(d) & np.isfinite(f)
    if not seen.any():
        raise PlanningError("no calibration step has both a forecast and observed demand; give more history")
    f, d = np.maximum(f[seen], 0.0), np.maximum(d[seen], 0.0)
    if additive:
        scores = d - f
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(f > 0, d / f - 1.0, np.where(d > 0, np.inf, -1.0))
    bound = conformal_quantile(scores, target_busy)
    if not math.isfinite(bound):  # too few steps for the target, or a zero forecast met demand
        finite = scores[np.isfinite(scores)]
        largest = float(finite.max()) if finite.size else 0.0
        bound = max_headroom if not additive and np.isinf(scores).any() else largest
    headroom = max(bound, 0.0) if additive else min(max(bound, 0.0), max_headroom)
    return Calibration(headroom=float(headroom), additive=additive, target_busy=target_busy,
                       n_scores=int(seen.sum()))
