"""AutoForecaster: per-series choice by backtest, the seasonal-naive floor, conformal quantiles, save/load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from capforecast.errors import ConfigError, ModelError, NotFittedError
from capforecast.models import get_model, load
from capforecast.models.auto import AutoForecaster

FAST = ("seasonal_naive", "naive", "seasonal_median_daily")


def _frame(days: int = 12, n_seasonal: int = 1, seed: int = 3) -> pd.DataFrame:
    """'walk' is a random walk (naive wins); 's0'.. have a daily cycle plus noise (seasonal models win)."""
    rng = np.random.default_rng(seed)
    n = 24 * days
    ds = pd.date_range("2026-01-05", periods=n, freq="h", tz="UTC")
    t = np.arange(n)
    parts = [pd.DataFrame({"unique_id": "walk", "ds": ds, "y": 200 + np.cumsum(rng.normal(0, 1, n))})]
    for k in range(n_seasonal):
        y = 40 + 5 * k + 15 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 2, n)
        parts.append(pd.DataFrame({"unique_id": f"s{k}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True).sort_values(["unique_id", "ds"], ignore_index=True)


def test_chooses_per_series_and_never_below_the_floor() -> None:
    auto = AutoForecaster(candidates=FAST, horizon=24, n_windows=2).fit(_frame())
    assert auto.choice_["walk"] in ("naive", "ensemble_top2")      # a random walk: last value wins
    assert auto.choice_["s0"] != "naive"                           # a daily cycle: never the flat line
    s = auto.scores_.set_index(["unique_id", "candidate"])
    assert set(auto.scores_["candidate"]) >= set(FAST) | {"ensemble_median", "ensemble_top2"}
    for uid, choice in auto.choice_.items():
        assert s.loc[(uid, choice), "mase"] <= s.loc[(uid, "seasonal_naive"), "mase"]
        assert "backtest MASE" in auto.reasons_[uid]
    rep = auto.report()
    assert list(rep["unique_id"]) == ["s0", "walk"] and (rep["mase"] <= rep["mase_seasonal_naive"]).all()
    # shrink: a non-floor choice is blended with seasonal naive (default half and half)
    blended = auto.predict(24).set_index(["unique_id", "ds"])["yhat"]
    alone = auto.set_params(shrink=0.0).predict(24).set_index(["unique_id", "ds"])["yhat"]
    floor = auto.members_["seasonal_naive"].predict(24).set_index(["unique_id", "ds"])["yhat"]
    np.testing.assert_allclose(blended.loc["walk"], 0.5 * (alone.loc["walk"] + floor.loc["walk"]))
    with pytest.raises(ConfigError, match="shrink"):
        AutoForecaster(shrink=2.0).fit(_frame(days=6))


def test_floor_holds_when_every_candidate_is_worse() -> None:
    # pure daily cycle: nothing beats repeating yesterday, so seasonal naive must be kept
    ds = pd.date_range("2026-01-05", periods=24 * 10, freq="h", tz="UTC")
    y = 10 + np.tile(np.arange(24.0), 10)
    auto = AutoForecaster(candidates=("naive",), horizon=24, n_windows=2, ensemble=False)
    auto.fit(pd.DataFrame({"unique_id": "x", "ds": ds, "y": y}))
    assert auto.choice_ == {"x": "seasonal_naive"}
    fc = auto.predict(24)
    np.testing.assert_allclose(fc["yhat"], y[-24:])


def test_calibrated_p90_covers_about_90_percent_out_of_sample() -> None:
    df = _frame(days=16, n_seasonal=8, seed=5)
    cut = df["ds"].max() - pd.Timedelta("24h")
    train, test = df[df.ds <= cut], df[df.ds > cut]
    auto = AutoForecaster(candidates=FAST, horizon=24, n_windows=3).fit(train)
    fc = auto.predict(24, quantiles=[0.1, 0.5, 0.9]).merge(test, on=["unique_id", "ds"])
    assert list(fc.columns[:7]) == ["unique_id", "ds", "model", "yhat", "p10", "p50", "p90"]
    assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
    cover = (fc["y"] <= fc["p90"]).mean()
    assert 0.8 <= cover <= 0.99, cover
    assert 0.01 <= (fc["y"] <= fc["p10"]).mean() <= 0.25


def test_save_load_round_trip_with_selection_in_metadata(tmp_path) -> None:
    auto = get_model("auto", candidates=FAST, horizon=24, n_windows=2).fit(_frame())
    before = auto.predict(24, quantiles=[0.5, 0.9])
    path = auto.save(tmp_path / "auto")
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["alias"] == "auto"
    sel = meta["selection"]["series"]
    assert sel["walk"]["choice"] == auto.choice_["walk"] and "seasonal_naive" in sel["walk"]["scores"]
    assert "backtest MASE" in sel["s0"]["reason"]
    again = load(path)
    pd.testing.assert_frame_equal(before, again.predict(24, quantiles=[0.5, 0.9]))
    assert again.choice_ == auto.choice_


def test_skips_unavailable_candidates_and_names_errors() -> None:
    auto = AutoForecaster(candidates=("seasonal_naive", "no_such_model"), horizon=24, n_windows=1,
                          ensemble=False).fit(_frame(days=6))
    assert "no_such_model" in auto.skipped_ and set(auto.choice_.values()) == {"seasonal_naive"}
    with pytest.raises(NotFittedError, match="call fit"):
        AutoForecaster().predict(24)
    with pytest.raises(ConfigError, match="metric"):
        AutoForecaster(metric="rmse").fit(_frame(days=6))
    with pytest.raises(ConfigError, match="own candidate"):
        AutoForecaster(candidates=("auto",)).fit(_frame(days=6))
    short = _frame(days=2)
    with pytest.raises(ModelError, match="more history"):
        AutoForecaster(horizon=24).fit(short)
