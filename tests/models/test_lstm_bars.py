"""The LSTM's bars on real data (slow: each trains the default ensemble; about 15 minutes in all on 2 cores).

* M4 hourly, trained and forecast with the CLI as a user runs it, scored with the M4 definitions.
* Helios, last 48 h held out: three seeds within a spread of 0.10, each better than seasonal naive.
* Helios, 7 daily origins x 24 h (trained once, then ``update`` with the newer history at each origin): the
  mean MASE over the 16 virtual clusters beats seasonal naive and seasonal quantile.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from capforecast.evaluation import cross_validation
from capforecast.evaluation.metrics import mase
from capforecast.models import get_model

pytestmark = [pytest.mark.slow, pytest.mark.needs_data("helios-earth", "m4-hourly")]
#: Issue 11's bar: MASE <= 0.90 and sMAPE <= 9.6 (measured 0.747 and 9.15, docs/models.md).
M4_MASE, M4_SMAPE = 0.90, 9.6


def _mean_mase(train: pd.DataFrame, test: pd.DataFrame, fc: pd.DataFrame) -> float:
    merged = test.merge(fc, on=["unique_id", "ds"])
    hist = {u: g["y"].to_numpy() for u, g in train.groupby("unique_id")}
    return float(np.mean([mase(g["y"].to_numpy(), g["yhat"].to_numpy(), insample=hist[u], m=24)
                          for u, g in merged.groupby("unique_id")]))


def test_lstm_on_m4_hourly_from_the_cli(tmp_path):
    from capforecast.datasets import load_m4_hourly
    from capforecast.evaluation import m4

    train, test = load_m4_hourly()
    train.to_parquet(tmp_path / "m4.parquet", index=False)
    out = tmp_path / "fc.csv"
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run([sys.executable, "-m", "capforecast.cli", "-q", "forecast", "--input", str(tmp_path / "m4.parquet"),
                    "--model", "lstm", "--horizon", "48", "--quantiles", "0.5,0.9", "--no-progress", "--out", str(out)],
                   check=True, env=env, capture_output=True, text=True)
    fc = pd.read_csv(out)
    fc = fc.sort_values(["unique_id", "ds"])
    forecasts = {str(u): g["yhat"].to_numpy() for u, g in fc.groupby("unique_id")}
    raw_train = {str(u): g["y"].to_numpy() for u, g in train.groupby("unique_id")}
    raw_test = {str(u): g["y"].to_numpy() for u, g in test.groupby("unique_id")}
    smape, mase_ = m4.score_m4(raw_train, raw_test, forecasts)
    p90 = {str(u): g["p90"].to_numpy() for u, g in fc.groupby("unique_id")}
    coverage = float(np.mean([np.mean(raw_test[u] <= p90[u]) for u in raw_test]))
    assert mase_ <= M4_MASE and smape <= M4_SMAPE, (smape, mase_)
    assert 0.86 <= coverage <= 0.94, coverage


def _helios_holdout(h: int = 48) -> tuple[pd.DataFrame, pd.DataFrame]:
    from capforecast.datasets import load_helios

    frame = load_helios(total=False)
    held_out = frame.groupby("unique_id").cumcount(ascending=False) < h
    return frame[~held_out].reset_index(drop=True), frame[held_out].reset_index(drop=True)


def test_the_helios_holdout_beats_seasonal_naive_whatever_the_seed():
    """Measured 1.514, 1.548, 1.541 against seasonal naive's 1.610 (before ``shrink``: 1.692-1.733, a loss)."""
    train, test = _helios_holdout()
    naive = _mean_mase(train, test, get_model("seasonal_naive").fit(train).predict(48, quantiles=[0.5]))
    scores = [_mean_mase(train, test, get_model("lstm", seed=s, verbose=0).fit(train).predict(48, quantiles=[0.5]))
              for s in (0, 1, 2)]
    assert max(scores) - min(scores) <= 0.10, scores
    assert max(scores) < naive, (scores, naive)


def test_lstm_beats_the_seasonal_baselines_on_the_helios_backtest():
    from capforecast.datasets import load_helios

    frame = load_helios(total=False)
    models = {"seasonal_naive": "seasonal_naive", "seasonal_quantile": "seasonal_quantile"}
    bt = cross_validation(frame, models, h=24, n_windows=7, quantiles=[0.5], progress=False)
    lstm = cross_validation(frame, {"lstm": get_model("lstm", horizon=24, verbose=0)}, h=24, n_windows=7,
                            refit=7, quantiles=[0.5], progress=False)  # trained once, then update()
    assert not bt.failures and not lstm.failures
    scores = pd.concat([bt.scores, lstm.scores]).pivot(index="unique_id", columns="model", values="mase")
    means = scores.mean()
    assert means["lstm"] < means["seasonal_naive"] and means["lstm"] < means["seasonal_quantile"], means.to_dict()
