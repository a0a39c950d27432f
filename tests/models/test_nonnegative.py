"""Demand that cannot be negative is never forecast negative, by any model, at any quantile (one clip, in the base)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capforecast.ingest.sample import make_sample
from capforecast.models import get_model

QUANTILES = [0.01, 0.1, 0.5, 0.9]
MODELS = {
    "naive": {},
    "seasonal_naive": {},
    "seasonal_quantile": {"season": "daily"},
    "holt_winters": {"n_paths": 200},
    "gbm": {"horizon": 24, "max_iter": 20, "quantiles": (0.01, 0.1, 0.5, 0.9)},
    "auto": {"n_windows": 2},
}


def low_demand(days: int = 14) -> pd.DataFrame:
    """Bursty demand that is 0 most of the time: every in-sample difference quantile below 0 is large."""
    rng = np.random.default_rng(3)
    n = 24 * days
    ds = pd.date_range("2026-01-05", periods=n, freq="h", tz="UTC")
    parts = []
    for k, uid in enumerate(["burst", "quiet"]):
        y = np.where(rng.random(n) < 0.3, rng.gamma(2.0, 20.0 * (k + 1), n), 0.0).round()
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("alias", list(MODELS))
def test_non_negative_history_gives_non_negative_forecasts(alias: str) -> None:
    fc = get_model(alias, **MODELS[alias]).fit(low_demand()).predict(24, quantiles=QUANTILES)
    values = fc[["yhat", "p1", "p10", "p50", "p90"]].to_numpy()
    assert (values >= 0).all(), f"{alias}: min {values.min()}"
    assert (fc["p90"] > 0).any()  # clipped, not flattened


@pytest.mark.parametrize("alias", ["naive", "seasonal_naive"])
def test_bundled_sample_low_quantiles_are_not_negative(alias: str) -> None:
    fc = get_model(alias).fit(make_sample(days=28)).predict(48, quantiles=[0.01, 0.5])
    assert fc["p1"].min() >= 0.0  # was -204 for seasonal_naive


def test_history_with_negative_values_is_not_clipped() -> None:
    frame = low_demand()
    frame["y"] -= 30.0  # e.g. a net change, which may be negative
    fc = get_model("seasonal_naive").fit(frame).predict(24, quantiles=[0.01, 0.5])
    assert fc["p1"].min() < 0 and fc["yhat"].min() < 0
