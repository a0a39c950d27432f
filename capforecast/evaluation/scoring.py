"""Score a forecast frame against actuals: one row of metrics per model, series and cutoff.

The MASE scale of each row is computed from the series' history up to its cutoff only, so a backtest
never borrows information from the future, even in its denominator.

Examples
--------
>>> import pandas as pd
>>> ds = pd.date_range("2026-01-01", periods=6, freq="h", tz="UTC")
>>> history = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
>>> fc = pd.DataFrame({"unique_id": "a", "ds": ds[4:], "cutoff": ds[3], "model": "naive",
...                    "yhat": [4.0, 4.0], "y": [5.0, 6.0]})
>>> score_forecasts(fc, history, m=1)[["mae", "mase"]].to_numpy().tolist()
[[1.5, 1.5]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capforecast import frames
from capforecast.errors import FrameError
from capforecast.evaluation import metrics

__all__ = ["score_forecasts"]


def score_forecasts(fc: pd.DataFrame, history: pd.DataFrame, *, m: int) -> pd.DataFrame:
    """Metrics of ``fc`` (forecast frame with ``y`` and ``cutoff`` columns) per model, series and cutoff.

    Columns: ``model, unique_id, cutoff, mae, rmse, smape, mase``, then ``pinball_p<q>`` and
    ``coverage_p<q>`` for each quantile column. ``history`` is the series frame the actuals came from;
    its values up to each cutoff give the MASE scale (season ``m``).
    """
    needed = {"unique_id", "ds", "model", "yhat", "y"} - set(fc.columns)
    if needed:
        raise FrameError(f"cannot score forecasts: missing column(s) {sorted(needed)}; "
                         "merge the actuals as 'y' (cross_validation does this for you)")
    if "cutoff" not in fc.columns:
        first = fc.groupby(["model", "unique_id"])["ds"].transform("min")
        fc = fc.assign(cutoff=first - frames.infer_step(history))
    qcols = frames.quantile_columns(fc)
    values = {str(u): (pd.DatetimeIndex(g["ds"]), g["y"].to_numpy(dtype=float))
              for u, g in history.groupby("unique_id", sort=False)}
    scales: dict[tuple[str, object], tuple[float, np.ndarray]] = {}
    rows = []
    for (model, uid, cutoff), g in fc.groupby(["model", "unique_id", "cutoff"], sort=False):
        key = (str(uid), cutoff)
        if key not in scales:
            ds, y = values.get(str(uid), (pd.DatetimeIndex([], tz="UTC"), np.array([])))
            past = y[ds <= cutoff]
            scales[key] = (metrics.seasonal_scale(past, m) if len(y) else np.nan, past)
        scale, past = scales[key]
        y = g["y"].to_numpy(dtype=float)
        f = g["yhat"].to_numpy(dtype=float)
        row = {
            "model": model,
            "unique_id": uid,
            "cutoff": cutoff,
            "mae": metrics.mae(y, f),
            "rmse": metrics.rmse(y, f),
            "smape": metrics.smape(y, f),
            "mase": metrics.mase(y, f, scale=scale, insample=past),
        }
        for q, col in qcols.items():
            qf = g[col].to_numpy(dtype=float)
            row[f"pinball_{col}"] = metrics.pinball(y, qf, q)
            row[f"coverage_{col}"] = metrics.coverage(y, qf)
        rows.append(row)
    return pd.DataFrame(rows)
