"""Shared feature code for the learned forecasters (GBM, LSTM, Holt-Winters).

Pure numpy/pandas functions: cyclic calendar encodings, per-series scaling,
gap filling for model inputs, outage detection and the per-series history checks that decide a fallback.
Nothing here imports TensorFlow or scikit-learn.

Examples
--------
>>> import pandas as pd
>>> calendar_features(pd.DatetimeIndex(["2026-01-05 06:00"], tz="UTC")).shape
(1, 4)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "CALENDAR_WIDTH",
    "calendar_features",
    "direct_features",
    "fill_for_input",
    "history_problem",
    "mask_outages",
    "series_arrays",
    "ScaledInputs",
    "series_scale",
    "weekly_lag",
    "window_normalize",
]

CALENDAR_WIDTH = 4


def calendar_features(ds: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Cyclic hour-of-day and day-of-week encodings, shape ``(n, 4)``: sin/cos hour, sin/cos weekday."""
    idx = pd.DatetimeIndex(ds)
    hour = idx.hour.to_numpy() + idx.minute.to_numpy() / 60.0 + idx.second.to_numpy() / 3600.0
    dow = idx.day_of_week.to_numpy() + hour / 24.0
    h = 2.0 * np.pi * hour / 24.0
    d = 2.0 * np.pi * dow / 7.0
    return np.stack([np.sin(h), np.cos(h), np.sin(d), np.cos(d)], axis=1).astype(np.float32)


def series_scale(y: np.ndarray) -> float:
    """Per-series scale: mean absolute observed value (1.0 for an all-zero or empty series)."""
    finite = np.abs(y[np.isfinite(y)])
    scale = float(finite.mean()) if finite.size else 0.0
    return scale if scale > 1e-12 else 1.0


def fill_for_input(y: np.ndarray, m: int) -> np.ndarray:
    """Fill NaN for use as a model *input* (never as a target): same step a season back, then nearest value.

    Values that cannot be filled (an all-NaN series) become 0.
    """
    out = np.asarray(y, dtype=float).copy()
    if m > 1:
        for i in np.flatnonzero(np.isnan(out)):
            if i >= m and not np.isnan(out[i - m]):
                out[i] = out[i - m]
    if np.isnan(out).any():
        out = pd.Series(out).ffill().bfill().to_numpy()
    return np.nan_to_num(out, nan=0.0)


def mask_outages(y: np.ndarray, m: int, *, min_nonzero_share: float = 0.8) -> tuple[np.ndarray, int]:
    """Mark runs of exact zeros at least one season long as missing (NaN) in an otherwise non-zero series.

    Such a run is taken as an outage of the data source, not as demand. A series that is zero more than
    ``1 - min_nonzero_share`` of the time outside those runs keeps its zeros (zero is normal for it).
    Returns the masked copy and the number of steps masked. A run that reaches the end of the series is kept:
    it may be real, current demand.
    """
    out = np.asarray(y, dtype=float).copy()
    n = len(out)
    edges = np.diff(np.r_[0, (out == 0.0).astype(np.int8), 0])  # +1 where a run of zeros starts, -1 after it
    first, after = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep = (after - first >= max(m, 2)) & (after < n)  # long enough, and not reaching the end
    if not keep.any():
        return out, 0
    marks = np.zeros(n + 1, dtype=np.int64)
    np.add.at(marks, first[keep], 1)
    np.add.at(marks, after[keep], -1)
    in_runs = np.cumsum(marks[:n]) > 0
    rest = out[~in_runs & np.isfinite(out)]
    if rest.size == 0 or np.mean(rest != 0.0) < min_nonzero_share:
        return out, 0
    out[in_runs] = np.nan
    return out, int(in_runs.sum())


def history_problem(y: np.ndarray, m: int) -> str | None:
    """Why a series cannot feed a learned model (``None`` if it can): too short, empty or constant."""
    observed = y[np.isfinite(y)]
    need = 2 * max(m, 1)
    if observed.size < need:
        return (
            f"only {observed.size} observed steps, fewer than two seasons ({need}); "
            "collect more history or use model 'seasonal_naive'"
        )
    if np.all(observed == observed[0]):
        return f"constant series (every value is {observed[0]:g}); forecasting the constant"
    return None


def series_arrays(frame: pd.DataFrame, ids: list[str], columns: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Split a regularised series frame into ``{id: {column: float array}}`` (plus ``'ds'``), in ``ids`` order."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for uid, group in frame.groupby("unique_id", sort=False):
        arrays = {c: group[c].to_numpy(dtype=float) for c in columns}
        arrays["ds"] = group["ds"].to_numpy()
        out[str(uid)] = arrays
    return {uid: out[uid] for uid in ids}


def weekly_lag(m: int) -> int:
    """The longer seasonal lag used as a feature: a week when the season is a day (``m`` > 7), else 2 seasons."""
    return 7 * m if m > 7 else 2 * m


def direct_features(
    y: np.ndarray, exog: np.ndarray, origins: np.ndarray, steps: np.ndarray, target_ds: pd.DatetimeIndex, m: int
) -> np.ndarray:
    """Feature rows for direct forecasting: one row per (origin, steps ahead) of one series.

    ``y`` is the gap-filled, scaled target, ``exog`` ``(T, E)`` the scaled exogenous columns. Columns: steps
    ahead, calendar of the target step, the last three values, the value one and two seasons and one week
    before the target (as last seen at the origin), mean/std/max of the last season, mean of the last week,
    and each exogenous column's last value and last-season mean. Values before the start are NaN.
    """
    w = weekly_lag(m)
    pad = w * 2 + m
    yp = np.concatenate([np.full(pad, np.nan), y])
    o = origins + pad
    t = o + steps
    k = np.ceil(steps / m).astype(int)
    kw = np.ceil(steps / w).astype(int)
    s = pd.Series(yp)
    roll_m = s.rolling(m, min_periods=1)
    mean_m, std_m, max_m = roll_m.mean().to_numpy(), roll_m.std().to_numpy(), roll_m.max().to_numpy()
    mean_w = s.rolling(w, min_periods=1).mean().to_numpy()
    cols = [
        steps.astype(float),
        yp[o], yp[o - 1], yp[o - 2],
        yp[t - m * k], yp[t - m * (k + 1)], yp[t - w * kw],
        mean_m[o], std_m[o], max_m[o], mean_w[o],
    ]
    for j in range(exog.shape[1]):
        ep = np.concatenate([np.full(pad, np.nan), exog[:, j]])
        cols += [ep[o], pd.Series(ep).rolling(m, min_periods=1).mean().to_numpy()[o]]
    return np.column_stack([np.column_stack(cols), calendar_features(target_ds)])


#: In the rows of :func:`direct_features`: the value-like columns (last values, seasonal lags, rolling
#: mean/std/max, weekly mean) and the one holding the mean of the last season at the origin.
_VALUE_COLUMNS = slice(1, 11)
_LEVEL_COLUMN = 7
#: Smallest level a row is divided by, in units of the series' own scale (an idle last day is not 0).
LEVEL_FLOOR = 0.1


def window_normalize(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of :func:`direct_features` relative to the level at their origin, and that level.

    The value-like columns are divided by the level ``L`` (the mean of the last season at the origin, at
    least :data:`LEVEL_FLOOR`) and ``log(L)`` is appended as a column. A model trained on targets divided by
    ``L`` then learns the *shape* of what comes next, shared by series at any level and under any trend;
    multiply its predictions by ``L``.

    >>> rows = direct_features(np.arange(1.0, 97.0), np.zeros((96, 0)), np.array([95]), np.array([1]),
    ...                        pd.DatetimeIndex(["2026-01-05"], tz="UTC"), 24)
    >>> out, level = window_normalize(rows)
    >>> float(level[0]), float(out[0, 1])  # last-day mean of 73..96 is 84.5; the last value 96 / 84.5
    (84.5, 1.136094674556213)
    """
    level = np.maximum(np.nan_to_num(rows[:, _LEVEL_COLUMN], nan=LEVEL_FLOOR), LEVEL_FLOOR)
    out = rows.copy()
    out[:, _VALUE_COLUMNS] /= level[:, None]
    return np.column_stack([out, np.log(level)]), level


class ScaledInputs:
    """The per-series scaling the learned models share (GBM, LSTM): outages masked, values divided by scale."""

    outages_: dict[str, int]
    scales_: dict[str, float]
    exog_scales_: dict[str, dict[str, float]]
    exog_cols_: list[str]

    def _scaled_inputs(self, a: dict[str, np.ndarray], uid: str, m: int) -> tuple[np.ndarray, float, np.ndarray]:
        """The target with outages masked (recorded in ``outages_``), its scale (kept in ``scales_``), and the
        gap-filled exogenous columns ``(T, E)`` divided by their own scales (kept in ``exog_scales_``)."""
        y, masked = mask_outages(a["y"], m)
        if masked:
            self.outages_[uid] = masked
        scale = self.scales_.setdefault(uid, series_scale(y))
        ex = [fill_for_input(a[c], m) / self.exog_scales_.setdefault(uid, {}).setdefault(c, series_scale(a[c]))
              for c in self.exog_cols_]
        return y, scale, np.column_stack(ex) if ex else np.zeros((len(y), 0))
