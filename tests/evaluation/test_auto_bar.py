"""The bar of issue 5 on real data: ``auto`` is never worse than seasonal naive on the Helios backtest.

The Helios backtest is the one of ``benchmarks/helios.py``: 7 daily origins x 24 h over the 16 virtual
clusters and their sum, every model refit at every origin, scored per series by MASE (m = 24) and sMAPE.
Only baselines are fitted, so it is deterministic and takes a few seconds. (The M4 half of the bar takes
~25 s and is the slow test below.)
"""

from __future__ import annotations

import numpy as np
import pytest

from capforecast.evaluation import cross_validation
from capforecast.models.auto import AutoForecaster


@pytest.mark.needs_data("helios-earth")
def test_auto_is_never_worse_than_seasonal_naive_on_the_helios_backtest() -> None:
    from capforecast.datasets import load_helios

    frame = load_helios()
    bt = cross_validation(frame, {"seasonal_naive": "seasonal_naive", "auto": AutoForecaster(horizon=24)},
                          h=24, n_windows=7, quantiles=[0.5], progress=False)
    assert not bt.failures
    s = bt.scores.pivot(index="unique_id", columns="model", values=["mase", "smape"])
    assert len(s) == 17  # 16 VCs and earth
    worse_mase = s.index[s[("mase", "auto")] > s[("mase", "seasonal_naive")]].tolist()
    worse_smape = s.index[s[("smape", "auto")] > s[("smape", "seasonal_naive")]].tolist()
    assert worse_mase == [] and worse_smape == [], (worse_mase, worse_smape)
    vcs = s.drop(index="earth")
    assert vcs[("mase", "auto")].mean() < 0.95 * vcs[("mase", "seasonal_naive")].mean()


@pytest.mark.needs_data("m4-hourly")
@pytest.mark.slow
def test_auto_beats_seasonal_naive_on_m4_hourly() -> None:
    from capforecast.datasets import load_m4_hourly
    from capforecast.evaluation import m4

    train, test = load_m4_hourly()
    fc = AutoForecaster(horizon=48).fit(train).predict(48)
    forecasts = {str(u): g["yhat"].to_numpy() for u, g in fc.groupby("unique_id")}
    raw_train = {str(u): g["y"].to_numpy() for u, g in train.groupby("unique_id")}
    raw_test = {str(u): g["y"].to_numpy() for u, g in test.groupby("unique_id")}
    auto = m4.score_m4(raw_train, raw_test, forecasts)
    naive = m4.score_m4(raw_train, raw_test, {u: np.resize(v[-24:], 48) for u, v in raw_train.items()})
    assert naive == pytest.approx((13.912, 1.193), abs=5e-4)  # the scorer reproduces M4's seasonal naive
    assert auto[0] < naive[0] and auto[1] < naive[1], (auto, naive)
