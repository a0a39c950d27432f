"""Honest accuracy: M4-exact metrics, rolling-origin backtests, conformal quantiles, the M4 scorer.

Examples
--------
>>> from capforecast.evaluation import cross_validation, smape
>>> round(smape([10.0], [12.0]), 3)
18.182
"""

from __future__ import annotations

from capforecast.evaluation.backtest import Backtest, cross_validation, resolve_models
from capforecast.evaluation.conformal import conformal_offsets, conformalize
from capforecast.evaluation.metrics import (
    coverage,
    interval_coverage,
    mae,
    mase,
    pinball,
    rmse,
    season_length,
    seasonal_scale,
    smape,
)
from capforecast.evaluation.scoring import score_forecasts

__all__ = [
    "Backtest",
    "conformal_offsets",
    "conformalize",
    "coverage",
    "cross_validation",
    "interval_coverage",
    "mae",
    "mase",
    "pinball",
    "resolve_models",
    "rmse",
    "score_forecasts",
    "season_length",
    "seasonal_scale",
    "smape",
]
