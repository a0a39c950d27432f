"""Conformal calibration of quantiles from backtest residuals (split conformal, one-sided per level).

A model's own quantiles are often too narrow or too wide. Given out-of-sample residuals ``y - yhat`` (from
:func:`~capforecast.evaluation.cross_validation`), the calibrated quantile ``q`` of a new forecast is
``yhat + offset_q``, where ``offset_q`` is the ``ceil((n + 1) q)``-th smallest of the ``n`` residuals. If
the residuals are exchangeable with the future errors, the calibrated P90 covers at least 90 % of actuals.

Two pure functions, usable by any stage (the planner can calibrate its own headroom the same way):

* :func:`conformal_offsets` - residuals in, one offset per quantile out.
* :func:`conformalize` - a forecast frame plus a backtest frame in, the forecast frame with calibrated
  quantile columns out (offsets per series).

Examples
--------
>>> import numpy as np
>>> residuals = np.arange(1.0, 10.0)  # 9 residuals: 1..9
>>> conformal_offsets(residuals, [0.5, 0.9])
{0.5: 5.0, 0.9: 9.0}
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from capforecast import frames
from capforecast.errors import ConfigError, FrameError

__all__ = ["conformal_offsets", "conformalize"]


def conformal_offsets(
    residuals: np.ndarray | Iterable[float], quantiles: Iterable[float]
) -> dict[float, float | np.ndarray]:
    """Offsets to add to a point forecast so that quantile ``q`` covers ``q`` of the residuals' population.

    Parameters
    ----------
    residuals : ``y - yhat`` from out-of-sample forecasts; shape ``(n,)``, or ``(k, n)`` for ``k`` separate
        groups (e.g. series) whose rows get their own offsets. NaN residuals are ignored.
    quantiles : levels in (0, 1).

    Returns
    -------
    dict
        ``{q: offset}``; a float for 1-d input, an array of ``k`` offsets for 2-d input. A group without any
        residual gets NaN. Levels above ``n / (n + 1)`` get the largest residual (the finite-sample limit).
    """
    res = np.asarray(list(residuals) if not isinstance(residuals, np.ndarray) else residuals, dtype=float)
    if res.ndim not in (1, 2):
        raise ConfigError(f"residuals must be 1-d or 2-d (groups x samples), got shape {res.shape}")
    levels = [float(q) for q in quantiles]
    bad = [q for q in levels if not 0.0 < q < 1.0]
    if bad:
        raise ConfigError(f"quantile levels {bad} are not strictly between 0 and 1; use e.g. 0.9 for P90")
    rows = np.atleast_2d(res)
    ordered = np.sort(rows, axis=1)  # NaN sorts last
    n = np.isfinite(rows).sum(axis=1)
    out: dict[float, float | np.ndarray] = {}
    for q in levels:
        if q >= 0.5:
            k = np.ceil((n + 1) * q).astype(int) - 1
        else:  # mirror image, so a lower quantile is just as conservative downwards
            k = np.floor((n + 1) * q).astype(int) - 1
        k = np.clip(k, 0, np.maximum(n - 1, 0))
        picked = ordered[np.arange(rows.shape[0]), k]
        picked = np.where(n > 0, picked, np.nan)
        out[q] = float(picked[0]) if res.ndim == 1 else picked
    return out


def conformalize(forecast: pd.DataFrame, backtest: pd.DataFrame) -> pd.DataFrame:
    """Replace the quantile columns of ``forecast`` by ``yhat`` + per-series conformal offsets.

    ``backtest`` holds out-of-sample forecasts with the actuals (``unique_id``, ``yhat``, ``y``; e.g.
    ``cross_validation(...).forecasts`` for the same model). Each series is calibrated on its own
    residuals; quantile columns stay sorted, so they never cross.
    """
    frames.validate_forecast(forecast)
    missing = {"unique_id", "yhat", "y"} - set(backtest.columns)
    if missing:
        raise FrameError(
            f"backtest frame lacks column(s) {sorted(missing)}; pass cross_validation(...).forecasts"
        )
    qcols = frames.quantile_columns(forecast)
    if not qcols:
        return forecast
    residuals = (backtest["y"] - backtest["yhat"]).groupby(backtest["unique_id"].astype(str))
    ids = [str(u) for u in pd.unique(forecast["unique_id"])]
    lacking = [u for u in ids if u not in residuals.groups]
    if lacking:
        raise FrameError(
            f"no backtest residuals for series {lacking[:5]}; backtest the same series as you forecast"
        )
    width = max(len(residuals.get_group(u)) for u in ids)
    table = np.full((len(ids), width), np.nan)
    for i, u in enumerate(ids):
        values = residuals.get_group(u).to_numpy(dtype=float)
        table[i, : len(values)] = values
    offsets = conformal_offsets(table, list(qcols))
    out = forecast.copy()
    row = out["unique_id"].astype(str).map({u: i for i, u in enumerate(ids)}).to_numpy()
    base = out["yhat"].to_numpy()
    stacked = np.stack([base + np.nan_to_num(np.asarray(offsets[q])[row]) for q in qcols], axis=1)
    stacked = np.sort(stacked, axis=1)
    for j, col in enumerate(qcols.values()):
        out[col] = stacked[:, j]
    return out
