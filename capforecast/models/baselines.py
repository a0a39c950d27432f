"""Baselines every other model must beat: naive, seasonal naive and seasonal empirical quantiles.

Quantiles of ``Naive`` and ``SeasonalNaive`` come from the empirical distribution of their own in-sample errors
(one-step and one-season differences), widened with the square root of the number of steps (or seasons) ahead.
NaN (missing) history is skipped: a missing value at the seasonal lag is taken from the season before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capforecast.errors import ModelError
from capforecast.models.base import Forecaster, season_steps, series_values

__all__ = ["Naive", "SeasonalNaive", "SeasonalQuantile"]


def _diff_quantiles(diffs: np.ndarray, quantiles: list[float]) -> dict[float, float]:
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size == 0:
        return {q: 0.0 for q in quantiles}
    return {q: float(np.quantile(diffs, q)) for q in quantiles}


def _require(uid: str, values: np.ndarray, needed: int, model: str, what: str) -> None:
    observed = np.isfinite(values)
    if len(values) < needed or not observed.any():
        raise ModelError(
            f"{model}: series {uid!r} has {int(observed.sum())} observed steps, needs at least {needed} ({what}); "
            "provide more history, drop the series, or use a model that needs less (e.g. 'naive')"
        )


class Naive(Forecaster):
    """Repeat the last observed value.

    Examples
    --------
    >>> from capforecast.ingest.sample import make_sample
    >>> fc = Naive().fit(make_sample(days=7, pools=["h100-infer"])).predict(3, quantiles=[0.9])
    >>> fc["yhat"].nunique()
    1
    """

    alias = "naive"
    per_series = True

    def _fit(self, frame: pd.DataFrame) -> None:
        self.last_ = {}
        self.diffs_ = {}
        for uid, y in series_values(frame).items():
            _require(uid, y, 1, "naive", "one observed value")
            self.last_[uid] = float(y[np.isfinite(y)][-1])
            self.diffs_[uid] = np.diff(y)

    def _predict(self, horizon: int, quantiles: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        yhat = np.array([[self.last_[u]] * horizon for u in self.ids_])
        widen = np.sqrt(np.arange(1, horizon + 1))
        qv = {q: np.empty_like(yhat) for q in quantiles}
        for i, uid in enumerate(self.ids_):
            for q, d in _diff_quantiles(self.diffs_[uid], quantiles).items():
                qv[q][i] = yhat[i] + d * widen
        return yhat, qv


def _seasonal_lookup(y: np.ndarray, m: int, horizon: int) -> np.ndarray:
    """The value one (or more, past missing data) seasons before each future step; NaN if none exists."""
    n = len(y)
    out = np.full(horizon, np.nan)
    for h in range(1, horizon + 1):
        idx = n - 1 + h - m * int(np.ceil(h / m))
        while idx >= 0 and not np.isfinite(y[idx]):
            idx -= m
        if idx >= 0:
            out[h - 1] = y[idx]
    return out


class SeasonalNaive(Forecaster):
    """Repeat the last observed season (``season='daily'``, ``'weekly'`` or a number of steps).

    Examples
    --------
    >>> from capforecast.ingest.sample import make_sample
    >>> frame = make_sample(days=14, pools=["a100-train"])
    >>> fc = SeasonalNaive(season="weekly").fit(frame).predict(24)
    >>> len(fc)
    24
    """

    alias = "seasonal_naive"
    per_series = True

    def __init__(self, season: str | int = "daily") -> None:
        self.season = season

    def _fit(self, frame: pd.DataFrame) -> None:
        self.season_length_ = season_steps(self.season, self.step_)
        m = self.season_length_
        self.history_ = {}
        self.diffs_ = {}
        for uid, y in series_values(frame).items():
            _require(uid, y, m, "seasonal_naive", f"one {self.season} season of {m} steps")
            self.history_[uid] = y[-8 * m:]  # enough seasons to step over missing data
            self.diffs_[uid] = y[m:] - y[:-m]

    def _predict(self, horizon: int, quantiles: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        m = self.season_length_
        widen = np.sqrt(np.ceil(np.arange(1, horizon + 1) / m))
        yhat = np.empty((len(self.ids_), horizon))
        qv = {q: np.empty_like(yhat) for q in quantiles}
        for i, uid in enumerate(self.ids_):
            y = self.history_[uid]
            row = _seasonal_lookup(y, m, horizon)
            last = y[np.isfinite(y)][-1] if np.isfinite(y).any() else np.nan
            if np.isnan(row).any():
                self.fallbacks_[uid] = "no observed value one season back for some steps: used the last value"
            yhat[i] = np.where(np.isnan(row), last, row)
            for q, d in _diff_quantiles(self.diffs_[uid], quantiles).items():
                qv[q][i] = yhat[i] + d * widen
        return yhat, qv


def _row_quantiles(samples: np.ndarray, levels: list[float]) -> np.ndarray:
    """``np.nanquantile(samples, levels, axis=1)`` (linear, bit for bit), vectorised: numpy's loops in Python
    over the rows whenever one value is NaN, and every backtest window of ``auto`` forecasts with this."""
    if not np.isnan(samples).any():
        return np.quantile(samples, levels, axis=1)
    s = np.sort(samples, axis=1)  # NaN sorts last
    n = (~np.isnan(s)).sum(axis=1)
    rows = np.flatnonzero(n > 0)
    out = np.full((len(levels), s.shape[0]), np.nan)
    for k, q in enumerate(levels):
        pos = q * (n[rows] - 1)
        lo = np.floor(pos).astype(int)
        a, b, t = s[rows, lo], s[rows, np.minimum(lo + 1, n[rows] - 1)], pos - lo
        out[k, rows] = np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)  # numpy's two-sided lerp
    return out


class SeasonalQuantile(Forecaster):
    """Empirical quantiles of the same phase of the season (e.g. hour of week) over the last seasons.

    ``yhat`` is the median. With fewer than ``n_seasons`` seasons of history, the available ones are used.

    Examples
    --------
    >>> from capforecast.ingest.sample import make_sample
    >>> frame = make_sample(days=21, pools=["a100-train"])
    >>> fc = SeasonalQuantile(season="daily", n_seasons=14).fit(frame).predict(24, quantiles=[0.5, 0.95])
    >>> bool((fc["p95"] >= fc["p50"]).all())
    True
    """

    alias = "seasonal_quantile"
    per_series = True

    def __init__(self, season: str | int = "weekly", n_seasons: int = 4) -> None:
        self.season = season
        self.n_seasons = n_seasons

    def _fit(self, frame: pd.DataFrame) -> None:
        self._check_counts("n_seasons")
        self.season_length_ = season_steps(self.season, self.step_)
        m = self.season_length_
        self.history_ = {}
        for uid, y in series_values(frame).items():
            _require(uid, y, m, "seasonal_quantile", f"one {self.season} season of {m} steps")
            self.history_[uid] = y[-(self.n_seasons + 1) * m:]

    def _predict(self, horizon: int, quantiles: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        m = self.season_length_
        yhat = np.empty((len(self.ids_), horizon))
        qv = {q: np.empty_like(yhat) for q in quantiles}
        h = np.arange(1, horizon + 1)
        first = -1 + h - m * np.ceil(h / m).astype(int)  # offset from the end of history, same phase
        offsets = first[:, None] - m * np.arange(self.n_seasons)[None, :]
        for i, uid in enumerate(self.ids_):
            y = self.history_[uid]
            idx = len(y) + offsets
            samples = np.where(idx >= 0, y[np.clip(idx, 0, None)], np.nan)
            empty = np.isnan(samples).all(axis=1)
            if empty.any():
                self.fallbacks_[uid] = "no observed value at some phases of the season: used all recent values"
                samples[empty, 0] = np.nanmedian(y)
            yhat[i] = np.nanmedian(samples, axis=1)
            levels = _row_quantiles(samples, quantiles)
            for k, q in enumerate(quantiles):
                qv[q][i] = levels[k]
        return yhat, qv
