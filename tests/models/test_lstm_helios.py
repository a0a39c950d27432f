"""The bar of issue 4 on real data: the default LSTM beats seasonal naive on the Helios holdout (slow)."""

import numpy as np
import pytest

from capforecast.evaluation.metrics import mase
from capforecast.models import get_model

H = 48


@pytest.mark.slow
@pytest.mark.needs_data("helios-earth")
def test_default_lstm_beats_seasonal_naive_on_helios():
    from capforecast.datasets import load_helios

    frame = load_helios(total=False)
    held_out = frame.groupby("unique_id").cumcount(ascending=False) < H
    train, test = frame[~held_out].reset_index(drop=True), frame[held_out].reset_index(drop=True)
    scores = {}
    for alias, params in (("seasonal_naive", {}), ("lstm", {"verbose": 0})):
        fc = get_model(alias, **params).fit(train).predict(H, quantiles=[0.5, 0.9])
        per_series = []
        for uid, g in test.groupby("unique_id"):
            f = fc[fc["unique_id"] == uid]["yhat"].to_numpy()
            per_series.append(mase(g["y"].to_numpy(), f, insample=train[train["unique_id"] == uid]["y"], m=24))
        scores[alias] = float(np.mean(per_series))
    assert scores["lstm"] < scores["seasonal_naive"], scores
