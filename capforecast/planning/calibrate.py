"""Turn a busy target into the headroom that meets it out of sample (split conformal calibration).

A plan holds ``ceil(f * (1 + k) / gpus_per_node)`` nodes for a forecast ``f`` of demand. On a calibration
window (backtest forecasts made exactly as the live ones are, e.g. the validation week of the simulator), each
step's *score* is the smallest headroom that would have held its demand, ``d / f - 1``. Split conformal
prediction says: with ``n`` exchangeable scores, the ``ceil((n + 1) * (1 - target_busy))``-th smallest bounds a
new step's score with probability at least ``1 - target_busy``. So "say 5 %, get <= 5 %" holds as long as the
next week behaves like the calibration window; :mod:`capforecast.planning.simulate` measures whether it did.

``additive=True`` uses ``d - f`` (GPUs) instead, which suits pools whose demand often sits at zero. There is
no cap on the multiplier: a zero forecast that met demand scores ``inf`` (no multiplier helps), and when the
bound is infinite the headroom is calibrated additively instead, so a 1 % plan is never silently a 5 % plan.
The simulator's adaptive, per-lead version is :mod:`capforecast.planning.adaptive`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from capforecast.errors import PlanningError

__all__ = ["Calibration", "calibrate_forecast", "calibrate_headroom"]

#: the score of a zero forecast that met demand: above any multiplier (finite, so the conformal rank counts it)
_NO_MULTIPLIER = 1e300


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
    max_headroom: float | None = None,
) -> Calibration:
    """Calibrate the headroom that keeps ``demand > capacity`` at most ``target_busy`` of the time.

    ``forecast`` and ``demand`` are aligned backtest values (made before the demand was seen). Steps with
    missing demand are skipped. The bound is
    :func:`~capforecast.evaluation.conformal.conformal_offsets` at level ``1 - target_busy``: when the window
    is too short for the target (fewer than ``1 / target_busy - 1`` steps) that is the largest score seen.
    A forecast of zero that met positive demand scores ``inf`` (no multiplier helps); when that makes the
    multiplicative bound infinite, the result is the additive calibration (``additive=True`` in the result).
    ``max_headroom`` caps a multiplicative headroom only when given (no cap by default).

    Examples
    --------
    >>> f = np.full(100, 100.0)
    >>> d = np.linspace(80, 119, 100)
    >>> round(calibrate_headroom(f, d, 0.05).headroom, 3)
    0.174
    """
    from capforecast.evaluation.conformal import conformal_offsets

    if isinstance(target_busy, bool) or not isinstance(target_busy, (int, float)) or not 0 < target_busy < 1:
        raise PlanningError(
            f"target_busy must be a share between 0 and 1 (e.g. 0.05 for 5 %), got {target_busy!r}"
        )
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
    else:  # a zero forecast that met demand needs more than any multiplier
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(f > 0, d / f - 1.0, np.where(d > 0, _NO_MULTIPLIER, -1.0))
    bound = float(conformal_offsets(scores, [1.0 - target_busy])[1.0 - target_busy])
    if not additive and bound >= _NO_MULTIPLIER:  # only GPUs on top of the forecast can hold this demand
        return calibrate_headroom(forecast, demand, target_busy, additive=True)
    headroom = max(bound, 0.0)
    if not additive and max_headroom is not None:
        headroom = min(headroom, max_headroom)
    return Calibration(headroom=float(headroom), additive=additive, target_busy=target_busy,
                       n_scores=int(seen.sum()))


def calibrate_forecast(
    forecast: pd.DataFrame,
    backtest: pd.DataFrame,
    pools: Sequence[Any],
    *,
    base: str = "yhat",
    max_headroom: float | None = None,
) -> tuple[pd.DataFrame, dict[str, Calibration]]:
    """Write each pool's service-quantile column as its calibrated demand, ready for ``plan_capacity``.

    For every pool (``name`` = ``unique_id``; target ``1 - service_quantile``), the headroom is calibrated on
    the pool's rows of ``backtest`` (out-of-sample forecasts with the actual ``y``, e.g.
    ``cross_validation(...).forecasts``; column ``base`` against ``y``). The pool's rows of ``forecast`` then
    get ``p<service> = base * (1 + headroom)``; other quantile columns are moved just enough to stay sorted.
    Pools without forecast rows are left out; a pool without backtest rows is an error.

    Examples
    --------
    >>> from capforecast.planning import PoolSpec
    >>> ds = pd.date_range("2026-05-01", periods=200, freq="h", tz="UTC")
    >>> bt = pd.DataFrame({"unique_id": "a", "ds": ds, "yhat": 100.0, "y": np.linspace(80, 119, 200)})
    >>> fc = pd.DataFrame({"unique_id": "a", "ds": ds[:2] + pd.Timedelta("200h"), "model": "m", "yhat": 50.0})
    >>> pool = PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=99, lead_time="5m", target_busy=0.05)
    >>> out, cal = calibrate_forecast(fc, bt, [pool])
    >>> out["p95"].round(1).tolist(), round(cal["a"].headroom, 3)
    ([58.6, 58.6], 0.172)
    """
    from capforecast import frames

    needs = (("forecast", forecast, ("unique_id", "ds", base)), ("backtest", backtest, ("unique_id", base, "y")))
    for name, df, cols in needs:
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise PlanningError(
                f"{name} frame lacks column(s) {missing}; calibrate from a backtest with '{base}' and the actual 'y' "
                "(e.g. cross_validation(...).forecasts), or pass base=<one of its columns>"
            )
    out = forecast.copy()
    ids = out["unique_id"].astype(str)
    cals: dict[str, Calibration] = {}
    for pool in pools:
        rows = ids == pool.name
        if not rows.any():
            continue
        past = backtest[backtest["unique_id"].astype(str) == pool.name]
        if past.empty:
            raise PlanningError(
                f"pool {pool.name!r} has no backtest rows to calibrate on; backtest its series first "
                "(capforecast backtest) or drop the pool"
            )
        target = 1.0 - pool.service_quantile
        cal = calibrate_headroom(past[base].to_numpy(float), past["y"].to_numpy(float), target,
                                 max_headroom=max_headroom)
        cals[pool.name] = cal
        col = frames.quantile_column(pool.service_quantile)
        value = cal.apply(out.loc[rows, base].to_numpy(float))
        out.loc[rows, col] = value
        for q, other in frames.quantile_columns(out).items():
            if other != col:  # keep the row's quantiles sorted around the calibrated one
                op = np.maximum if q > pool.service_quantile else np.minimum
                out.loc[rows, other] = op(out.loc[rows, other].to_numpy(float), value)
    qcols = frames.quantile_columns(out)
    if out[list(qcols.values())].isna().any().any():
        raise PlanningError(
            "pools with different service quantiles share this forecast, so some rows lack another pool's column; "
            "calibrate each group of pools with one service quantile separately"
        )
    ordered = ["unique_id", "ds", *[c for c in out.columns if c not in ("unique_id", "ds") and c not in qcols.values()]]
    return out[ordered + list(qcols.values())], cals
