"""The M4 competition's scoring: its raw wide files, its Naive2 benchmark, and OWA.

This module is the check that capforecast scores forecasts exactly as the M4 organisers did: from the raw
``Hourly-train.csv`` / ``Hourly-test.csv`` it reproduces the published seasonal naive (13.912 / 1.193) and
Naive2 (18.383 / 2.395) hourly scores. Naive2 follows the organisers' R code: a 90 % autocorrelation test
for seasonality, then a classical multiplicative decomposition, a naive forecast of the seasonally adjusted
series, and the last season's indices put back.

Examples
--------
>>> import numpy as np
>>> x = 10 + np.sin(np.arange(24 * 10) * 2 * np.pi / 24)
>>> bool(seasonality_test(x, 24))
True
>>> naive2_forecast(x, h=3, m=24).shape
(3,)
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence

import numpy as np

from capforecast.errors import IngestError
from capforecast.evaluation.metrics import mase, smape

__all__ = [
    "M4_HOURLY_PUBLISHED",
    "naive2_forecast",
    "owa",
    "read_m4_wide",
    "score_m4",
    "seasonality_test",
]

#: Published M4 hourly point-forecast scores (sMAPE, MASE, OWA) from ``BENCHMARKS.md``.
M4_HOURLY_PUBLISHED: dict[str, tuple[float, float, float]] = {
    "Naive": (43.003, 11.608, 3.593),
    "Naive2": (18.383, 2.395, 1.000),
    "sNaive": (13.912, 1.193, 0.627),
    "Theta": (18.138, 2.455, 1.006),
    "MLP": (13.842, 2.607, 0.921),
    "RNN": (14.698, 3.048, 1.036),
    "ES-RNN (winner)": (9.328, 0.893, 0.440),
    "Doornik et al.": (8.913, 0.801, 0.410),
}


def read_m4_wide(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read an M4 wide CSV (id, then ragged values) into ``{series id: float array}`` in file order."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise IngestError(
            f"cannot read the M4 file {os.fspath(path)!r} ({exc.strerror}); pass the path of "
            "Hourly-train.csv or Hourly-test.csv (they are in ../shared/data/m4-hourly)"
        ) from None
    if not rows or not rows[0] or rows[0][0] != "V1":
        raise IngestError(f"{os.fspath(path)!r} is not an M4 wide file (first header cell should be 'V1'); "
                          "pass Hourly-train.csv or Hourly-test.csv from the M4 dataset")
    series: dict[str, np.ndarray] = {}
    for line_no, row in enumerate(rows[1:], start=2):
        values = [v for v in row[1:] if v.strip() != ""]
        try:
            series[row[0]] = np.array(values, dtype=float)
        except ValueError:
            raise IngestError(f"{os.fspath(path)!r} line {line_no}: a value is not a number; "
                              "re-download the file from the M4 repository") from None
    return series


def _acf(x: np.ndarray, nlags: int) -> np.ndarray:
    """Autocorrelations at lags 1..nlags, as R's ``acf`` (biased, mean-removed)."""
    d = x - x.mean()
    denom = float(d @ d)
    if denom == 0.0:
        return np.zeros(nlags)
    return np.array([float(d[:-k] @ d[k:]) / denom for k in range(1, nlags + 1)])


def seasonality_test(x: Sequence[float] | np.ndarray, m: int) -> bool:
    """M4's test: is the lag-``m`` autocorrelation significant at 90 %? Needs at least ``3 m`` values."""
    x = np.asarray(x, dtype=float)
    if m <= 1 or x.size < 3 * m:
        return False
    acf = _acf(x, m)
    limit = 1.645 / np.sqrt(x.size) * np.sqrt(1.0 + 2.0 * np.sum(acf[: m - 1] ** 2))
    return bool(abs(acf[m - 1]) > limit)


def _multiplicative_indices(x: np.ndarray, m: int) -> np.ndarray:
    """Seasonal indices (one per step of ``x``) from R's ``decompose(type="multiplicative")``."""
    n = x.size
    if m % 2 == 0:
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        weights = np.ones(m) / m
    half = weights.size // 2
    trend = np.full(n, np.nan)
    trend[half : n - half] = np.convolve(x, weights[::-1], mode="valid")
    ratio = x / trend
    figure = np.array([np.nanmean(ratio[i::m]) for i in range(m)])
    figure = figure / figure.mean()
    return np.resize(figure, n)


def naive2_forecast(x: Sequence[float] | np.ndarray, h: int, m: int) -> np.ndarray:
    """M4's Naive2: naive forecast of the seasonally adjusted series (multiplicative), re-seasonalised."""
    x = np.asarray(x, dtype=float)
    if not seasonality_test(x, m):
        return np.full(h, x[-1])
    seasonal = _multiplicative_indices(x, m)
    last_season = seasonal[-m:]
    return (x[-1] / seasonal[-1]) * np.resize(last_season, h)


def score_m4(
    train: Mapping[str, np.ndarray],
    test: Mapping[str, np.ndarray],
    forecasts: Mapping[str, np.ndarray],
    m: int = 24,
) -> tuple[float, float]:
    """Mean sMAPE and mean MASE over all series, as M4 scores a set. Every test id needs a forecast."""
    missing = [uid for uid in test if uid not in forecasts]
    if missing:
        raise IngestError(
            f"no forecast for {len(missing)} series (e.g. {missing[:3]}); forecast every series"
        )
    s = [smape(test[uid], forecasts[uid]) for uid in test]
    a = [mase(test[uid], forecasts[uid], insample=train[uid], m=m) for uid in test]
    return float(np.mean(s)), float(np.mean(a))


def owa(smape_value: float, mase_value: float, naive2: tuple[float, float]) -> float:
    """Overall weighted average relative to Naive2's ``(sMAPE, MASE)`` of the same set."""
    return 0.5 * (smape_value / naive2[0] + mase_value / naive2[1])
