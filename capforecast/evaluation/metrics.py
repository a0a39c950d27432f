"""Accuracy metrics, with the M4 competition's definitions of sMAPE and MASE.

Every function takes plain arrays (one series, or one row per series) and returns a float. Steps whose
actual value is missing (NaN) are left out, so a backtest over a frame with gaps still scores the steps
that were observed. The definitions are the ones in ``BENCHMARKS.md`` and in the M4 organisers' R code:

* sMAPE = mean of ``200 * |y - f| / (|y| + |f|)`` over the horizon (percent). A step where both the actual
  and the forecast are 0 counts as 0 % error (M4 has no zeros; GPU demand does).
* MASE = mean ``|y - f|`` divided by the in-sample mean of ``|y_t - y_{t-m}|`` (the seasonal naive's
  in-sample error), ``m`` = 24 for hourly data. A history that repeats exactly every season (a constant
  pool, a perfectly periodic one) has scale 0, where M4's MASE is 0/0 or infinite: here a perfect forecast
  scores 0 (a win, not a failure) and an imperfect one is scaled by the history's mean ``|y|`` instead
  (by 1 when the history is all zeros), so candidates stay comparable and none is dropped.
* pinball loss of quantile ``q``: mean of ``max(q * (y - f), (q - 1) * (y - f))``.
* coverage: share of actuals at or below a quantile forecast (a P90 should cover about 90 %).

Examples
--------
>>> import numpy as np
>>> y, f = np.array([10.0, 20.0]), np.array([12.0, 20.0])
>>> round(smape(y, f), 4)
9.0909
>>> mase(y, f, insample=np.array([1.0, 2.0, 4.0]), m=1)
0.6666666666666666
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from capforecast.errors import ConfigError, FrameError

__all__ = [
    "coverage",
    "interval_coverage",
    "mae",
    "mase",
    "pinball",
    "rmse",
    "season_length",
    "seasonal_scale",
    "smape",
    "zero_scale_fallback",
]

_DAY = pd.Timedelta(days=1)
_WEEK = pd.Timedelta(days=7)


def season_length(step: pd.Timedelta) -> int:
    """Return the season length in steps for a sampling ``step``: one day for steps that divide a day (24 for
    hourly data), one week for daily steps and steps that divide a week, else 1 (no season, as M4 does for
    yearly data). MASE, the backtest and every model read the season from here.

    Examples
    --------
    >>> season_length(pd.Timedelta(hours=1)), season_length(pd.Timedelta(days=1))
    (24, 7)
    """
    step = pd.Timedelta(step)
    if step <= pd.Timedelta(0):
        raise ConfigError(f"step must be positive to infer a season length, got {step}; pass m= explicitly")
    if step < _DAY and _DAY % step == pd.Timedelta(0):
        return int(_DAY / step)
    if step < _WEEK and _WEEK % step == pd.Timedelta(0):
        return int(_WEEK / step)
    return 1


def _pair(y: Sequence[float] | np.ndarray, f: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    f = np.asarray(f, dtype=float)
    if y.shape != f.shape:
        raise FrameError(
            f"actuals and forecasts differ in shape ({y.shape} vs {f.shape}); "
            "pass one forecast per actual step"
        )
    if np.isnan(f[~np.isnan(y)]).any():
        raise FrameError("a forecast is NaN where the actual is known; fill or drop those forecast steps")
    keep = ~np.isnan(y)
    return y[keep], f[keep]


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def mae(y: Sequence[float] | np.ndarray, f: Sequence[float] | np.ndarray) -> float:
    """Mean absolute error over the steps with a known actual (NaN if there are none)."""
    y, f = _pair(y, f)
    return _mean(np.abs(y - f))


def rmse(y: Sequence[float] | np.ndarray, f: Sequence[float] | np.ndarray) -> float:
    """Root mean squared error over the steps with a known actual (NaN if there are none)."""
    y, f = _pair(y, f)
    return float(np.sqrt(_mean((y - f) ** 2)))


def smape(y: Sequence[float] | np.ndarray, f: Sequence[float] | np.ndarray) -> float:
    """Symmetric MAPE in percent, exactly as M4: mean of ``200 |y - f| / (|y| + |f|)``; 0/0 counts as 0."""
    y, f = _pair(y, f)
    denom = np.abs(y) + np.abs(f)
    err = np.divide(200.0 * np.abs(y - f), denom, out=np.zeros_like(y), where=denom > 0)
    return _mean(err)


def seasonal_scale(insample: Sequence[float] | np.ndarray, m: int) -> float:
    """In-sample mean absolute seasonal difference ``mean |y_t - y_{t-m}|``, the denominator of MASE.

    Pairs with a missing value on either side are skipped. Returns NaN when no pair is left (history shorter
    than ``m + 1`` steps), and 0 when the history repeats exactly every ``m`` steps (see :func:`mase`).
    """
    if int(m) < 1:
        raise ConfigError(f"season length m must be >= 1, got {m}; use 24 for hourly data, 1 for no season")
    x = np.asarray(insample, dtype=float)
    if x.size <= m:
        return float("nan")
    diff = np.abs(x[m:] - x[:-m])
    return float(np.nanmean(diff)) if np.isfinite(diff).any() else float("nan")


def mase(
    y: Sequence[float] | np.ndarray,
    f: Sequence[float] | np.ndarray,
    *,
    insample: Sequence[float] | np.ndarray | None = None,
    m: int = 24,
    scale: float | None = None,
) -> float:
    """Mean absolute scaled error, exactly as M4: MAE over the horizon / :func:`seasonal_scale` of history.

    Give the training values ``insample`` (and the season ``m``), or a precomputed ``scale`` (with ``insample``
    too, for the fallback below).
    A history that repeats exactly every season has scale 0: a perfect forecast then scores 0, and any other
    is divided by :func:`zero_scale_fallback` instead (mean ``|y|`` of ``insample``, or 1). NaN only when the
    scale cannot be computed (history shorter than ``m + 1`` steps) or no actual is known.

    Examples
    --------
    >>> flat = np.full(48, 5.0)
    >>> mase([5.0, 5.0], [5.0, 5.0], insample=flat, m=24), mase([5.0, 5.0], [4.0, 6.0], insample=flat, m=24)
    (0.0, 0.2)
    """
    if scale is None:
        if insample is None:
            raise ConfigError("mase needs the training values: pass insample=<history> (or scale=<float>)")
        scale = seasonal_scale(insample, m)
    err = mae(y, f)
    if scale == 0.0:
        scale = zero_scale_fallback(insample) if err > 0 else 1.0
    return float(np.float64(err) / np.float64(scale))


def zero_scale_fallback(insample: Sequence[float] | np.ndarray | None) -> float:
    """The MASE denominator of a history whose seasonal scale is 0: its mean ``|y|``, or 1 if that is 0 or unknown.

    An error on such a series is then a share of its level (an error of 1 GPU on a pool flat at 5 is 0.2).
    """
    if insample is not None:
        x = np.abs(np.asarray(insample, dtype=float))
        level = float(np.nanmean(x)) if np.isfinite(x).any() else 0.0
        if level > 0:
            return level
    return 1.0


def pinball(y: Sequence[float] | np.ndarray, f: Sequence[float] | np.ndarray, q: float) -> float:
    """Pinball (quantile) loss of the forecast ``f`` of quantile ``q`` in (0, 1), averaged over steps."""
    if not 0.0 < float(q) < 1.0:
        raise ConfigError(f"quantile level must be strictly between 0 and 1, got {q}; e.g. 0.9 for P90")
    y, f = _pair(y, f)
    diff = y - f
    return _mean(np.maximum(q * diff, (q - 1.0) * diff))


def coverage(y: Sequence[float] | np.ndarray, upper: Sequence[float] | np.ndarray) -> float:
    """Share of actuals at or below ``upper`` (e.g. a P90 forecast should give about 0.9)."""
    y, upper = _pair(y, upper)
    return _mean((y <= upper).astype(float))


def interval_coverage(
    y: Sequence[float] | np.ndarray,
    lower: Sequence[float] | np.ndarray,
    upper: Sequence[float] | np.ndarray,
) -> float:
    """Share of actuals inside ``[lower, upper]`` (e.g. P5..P95 should give about 0.9)."""
    y1, lower = _pair(y, lower)
    _, upper = _pair(y, upper)
    return _mean(((y1 >= lower) & (y1 <= upper)).astype(float))
