"""AutoForecaster: per-series choice by backtest from a default, the seasonal-naive floor, quantiles, save/load."""

from __future__ import annotations

import json

import joblib
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


def test_chooses_per_series_from_a_default_with_the_floor() -> None:
    auto = AutoForecaster(candidates=FAST, horizon=24, n_windows=3).fit(_frame())
    assert auto.default_ == "median3"
    assert auto.choice_["s0"] != "naive"                           # a daily cycle: never the flat line
    assert set(auto.scores_["candidate"]) == set(FAST) | {"ensemble_median", "median3"}
    s = auto.scores_.set_index(["unique_id", "candidate"])
    for uid, choice in auto.choice_.items():
        assert "backtest MASE" in auto.reasons_[uid]
        if choice == "median3":
            assert "no candidate beat it consistently" in auto.reasons_[uid]
            continue
        row = s.loc[(uid, choice)]                                   # a switch needs consistent evidence ...
        assert row["mase"] < s.loc[(uid, "median3"), "mase"] and row["losses"] <= 1
        assert row["mase"] <= s.loc[(uid, "seasonal_naive"), "mase"]  # ... and never loses to the floor
    rep = auto.report()
    assert list(rep["unique_id"]) == ["s0", "walk"]
    assert list(rep.columns) == ["unique_id", "choice", "mase", "smape", "mase_seasonal_naive", "reason"]
    # shrink: a challenger (other than seasonal naive) is blended with the default, half and half by default
    assert auto.choice_["s0"] == "seasonal_median_daily" and auto.anchor_["s0"] == "median3"
    assert "blended with 50% of median3" in auto.reasons_["s0"]
    blended = auto.predict(24).set_index(["unique_id", "ds"])["yhat"].loc["s0"]
    alone = auto.set_params(shrink=0.0).predict(24).set_index(["unique_id", "ds"])["yhat"].loc["s0"]
    members = [auto.members_[m].predict(24).set_index(["unique_id", "ds"])["yhat"].loc["s0"]
               for m in ("seasonal_naive", "naive", "seasonal_median_daily")]
    np.testing.assert_allclose(alone, members[2])
    np.testing.assert_allclose(blended, 0.5 * (alone + np.median(np.stack(members), axis=0)))
    with pytest.raises(ConfigError, match="shrink"):
        AutoForecaster(shrink=2.0).fit(_frame(days=6))


def _select_from(errors: dict[str, list[float]], **params: object) -> AutoForecaster:
    """Run the selection on a made-up backtest: candidate -> absolute error in each 24-step window."""
    ds = pd.date_range("2026-01-05", periods=24 * 10, freq="h", tz="UTC")
    frame = pd.DataFrame({"unique_id": "x", "ds": ds, "y": np.tile([0.0, 1.0], 24 * 5)})  # MASE scale 0 ...
    frame.loc[frame.index % 24 == 0, "y"] = np.arange(10.0)  # ... except one step a day: scale 1/24
    rows = []
    n = len(next(iter(errors.values())))
    for k in range(n):
        cutoff = ds[-1] - pd.Timedelta(hours=24 * (n - k))
        steps = pd.date_range(cutoff + pd.Timedelta("1h"), periods=24, freq="h")
        for name, err in errors.items():
            rows.append(pd.DataFrame({"unique_id": "x", "ds": steps, "cutoff": cutoff, "model": name,
                                      "yhat": err[k] / 24, "y": 0.0}))
    auto = AutoForecaster(**params)
    auto.skipped_, auto.backtest_windows_, auto.backtest_horizon_ = {}, n, 24
    auto._select(auto._candidate_table(pd.concat(rows, ignore_index=True)), frame, 24)
    return auto


def test_switching_from_the_default_needs_consistent_evidence() -> None:
    errors = {                                   # MASE per window (scale 1/24, error err/24 each step)
        "seasonal_naive": [1.5, 1.5, 1.5, 1.5, 1.5],
        "naive": [1.0, 1.0, 1.0, 1.0, 1.0],      # the default below
        "lucky": [0.0, 0.0, 0.0, 1.2, 1.2],      # lowest mean, but worse than the default in 2 windows
        "steady": [0.9, 0.9, 0.9, 0.9, 1.1],     # lower mean, worse in 1 window
    }
    picked = {k: _select_from(errors, default="naive", ensemble=False, max_losses=k).choice_["x"]
              for k in (0, 1, 2, None)}
    assert picked == {0: "naive", 1: "steady", 2: "lucky", None: "lucky"}
    chosen = _select_from(errors, default="naive", ensemble=False)
    assert "worse in 1 of 5 window(s)" in chosen.reasons_["x"]
    assert chosen.scores_.set_index("candidate").loc["lucky", "losses"] == 2
    # the floor: a candidate worse than seasonal naive on the mean never replaces the default ...
    floor = dict(errors, seasonal_naive=[0.5] * 5, steady=[0.6] * 5)
    assert _select_from(floor, default="naive", ensemble=False, max_losses=1).choice_["x"] == "seasonal_naive"
    # ... and a lower mean from one lucky window of two is not consistent: the default stays, with the reason
    stay = _select_from({"seasonal_naive": [0.0, 1.0], "naive": [0.5, 0.9]}, default="naive", ensemble=False)
    assert stay.scores_.set_index("candidate").loc["seasonal_naive", "mase"] < 0.6
    assert stay.choice_["x"] == "naive" and "no candidate beat it consistently" in stay.reasons_["x"]
    assert "seasonal_naive's mean MASE is lower, but it was worse than the default in 1 of 2" in stay.reasons_["x"]


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
    # a model saved by 0.1 (no default_ in its state) gets a clear error, and its files stay as they were
    state = joblib.load(path / "auto_state.joblib")
    del state["default_"]
    joblib.dump(state, path / "auto_state.joblib")
    kept = sorted(p.name for p in path.rglob("*"))
    with pytest.raises(ModelError, match="capforecast 0.1.*retrain"):
        load(path)
    assert sorted(p.name for p in path.rglob("*")) == kept


def test_skips_unavailable_candidates_and_names_errors() -> None:
    auto = AutoForecaster(candidates=("seasonal_naive", "no_such_model"), horizon=24, n_windows=1,
                          ensemble=False).fit(_frame(days=6))
    assert "no_such_model" in auto.skipped_ and set(auto.choice_.values()) == {"seasonal_naive"}
    with pytest.raises(NotFittedError, match="call fit"):
        AutoForecaster().predict(24)
    with pytest.raises(ConfigError, match="metric"):
        AutoForecaster(metric="rmse").fit(_frame(days=6))
    with pytest.raises(ConfigError, match="default 'holt_winters' is not among the candidates"):
        AutoForecaster(candidates=FAST, default="holt_winters").fit(_frame(days=6))
    with pytest.raises(ConfigError, match="max_losses"):
        AutoForecaster(max_losses=-1).fit(_frame(days=6))
    without = AutoForecaster(candidates=("seasonal_naive", "naive"), horizon=24, n_windows=1).fit(_frame(days=6))
    assert without.default_ == "seasonal_naive" and "median3" in without.skipped_
    with pytest.raises(ConfigError, match="own candidate"):
        AutoForecaster(candidates=("auto",)).fit(_frame(days=6))
    short = _frame(days=2)
    with pytest.raises(ModelError, match="more history"):
        AutoForecaster(horizon=24).fit(short)
