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

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from capforecast import frames
from capforecast.errors import ConfigError, FrameError

__all__ = ["conformal_offsets", "conformalize"]

logger = logging.getLogger(__name__)


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


def conformalize(
    forecast: pd.DataFrame, backtest: pd.DataFrame, *, history: pd.DataFrame | None = None, season: int | None = None
) -> pd.DataFrame:
    """Replace the quantile columns of ``forecast`` by ``yhat`` + per-series conformal offsets.

    ``backtest`` holds out-of-sample forecasts with the actuals (``unique_id``, ``yhat``, ``y``; e.g.
    ``cross_validation(...).forecasts`` for the same model). Each series is calibrated on its own
    residuals; quantile columns stay sorted, so they never cross.

    A series whose residuals are all missing (every backtest actual or forecast NaN) cannot be calibrated, and
    an offset of 0 would make its P99 the point forecast. It falls back instead, with a warning naming it:
    with ``history`` (the series frame), to offsets from its in-sample seasonal errors ``y_t - y_{t-season}``
    (``season`` defaults to one day of steps; the error of repeating the last season, wider than a fitted
    model's); without ``history``, or without any such error, it keeps the forecast's own quantiles.
    """
    frames.validate_forecast(forecast)
    if not isinstance(backtest, pd.DataFrame):
        raise FrameError(f"backtest: expected a DataFrame, got {type(backtest).__name__}; pass "
                         "cross_validation(...).forecasts")
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
    offsets = {q: np.asarray(v, dtype=float) for q, v in conformal_offsets(table, list(qcols)).items()}
    empty = [u for i, u in enumerate(ids) if not np.isfinite(table[i]).any()]
    if empty:
        _fall_back(offsets, ids, empty, list(qcols), history, season)
    out = forecast.copy()
    row = out["unique_id"].astype(str).map({u: i for i, u in enumerate(ids)}).to_numpy()
    base = out["yhat"].to_numpy()
    stacked = np.stack([np.where(np.isnan(offsets[q][row]), out[col].to_numpy(dtype=float), base + offsets[q][row])
                        for q, col in qcols.items()], axis=1)  # NaN offset: the forecast's own quantile
    stacked = np.sort(stacked, axis=1)
    for j, col in enumerate(qcols.values()):
        out[col] = stacked[:, j]
    return out


def _fall_back(offsets: dict[float, np.ndarray], ids: list[str], empty: list[str], levels: list[float],
               history: pd.DataFrame | None, season: int | None) -> None:
    """Offsets of the series in ``empty`` from their seasonal in-sample errors (NaN: keep their own quantiles)."""
    seasonal = []
    if history is not None:
        from capforecast.evaluation.metrics import season_length

        hist = frames.regularize(history)
        m = int(season) if season else season_length(frames.infer_step(hist))
        y_by_id = {str(u): g["y"].to_numpy(dtype=float) for u, g in hist.groupby("unique_id")}
        for uid in empty:
            y = y_by_id.get(uid, np.array([]))
            errors = y[m:] - y[:-m] if len(y) > m else np.array([])
            if np.isfinite(errors).any():
                seasonal.append(uid)
                for q, value in conformal_offsets(errors, levels).items():
                    offsets[q][ids.index(uid)] = float(value)
    own = [u for u in empty if u not in seasonal]
    logger.warning(
        "conformalize: no backtest residual for %d series (every backtest step missing): %s",
        len(empty),
        "; ".join(part for part in (
            f"{seasonal[:5]} calibrated on their in-sample seasonal errors instead" if seasonal else "",
            f"{own[:5]} keep the forecast's own quantiles (pass history= to calibrate them on their seasonal "
            "errors)" if own else "",
        ) if part),
    )
