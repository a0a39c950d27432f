import numpy as np
import pandas as pd
import pytest

from capforecast.errors import ModelError
from capforecast.models import Naive, SeasonalNaive, SeasonalQuantile
from tests.conftest import make_frame


def _frame(values, start="2026-01-05", uid="a"):
    ds = pd.date_range(start, periods=len(values), freq="h", tz="UTC")
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.asarray(values, dtype=float)})


def test_naive_repeats_the_last_observed_value_past_trailing_nans():
    fc = Naive().fit(_frame([1, 2, 3, np.nan])).predict(3, quantiles=[0.5])
    assert fc["yhat"].tolist() == [3.0, 3.0, 3.0]


def test_seasonal_naive_repeats_the_last_season():
    day = np.arange(24, dtype=float)
    fc = SeasonalNaive(season="daily").fit(_frame(np.r_[day + 100, day])).predict(30, quantiles=[0.5])
    assert fc["yhat"].tolist() == list(day) + list(day[:6])


def test_seasonal_naive_steps_over_missing_data_to_the_season_before():
    day = np.arange(24, dtype=float)
    last = day.copy() + 50
    last[5] = np.nan
    fc = SeasonalNaive(season="daily").fit(_frame(np.r_[day, last])).predict(24, quantiles=[0.5])
    assert fc["yhat"].iloc[5] == 5.0 and fc["yhat"].iloc[6] == 56.0


def test_weekly_season_and_integer_season():
    frame = make_frame(ids=("a",), periods=24 * 14)
    weekly = SeasonalNaive(season="weekly").fit(frame).predict(24)
    assert np.allclose(weekly["yhat"], frame["y"].iloc[-168:-144])
    assert SeasonalNaive(season=12).fit(frame).season_length_ == 12


def test_seasonal_beats_naive_on_a_seasonal_series():
    frame = make_frame(ids=("a",), periods=24 * 21)
    train, test = frame.iloc[:-48], frame.iloc[-48:]
    err = {}
    for model in (Naive(), SeasonalNaive()):
        fc = model.fit(train).predict(48)
        err[model.alias] = np.mean(np.abs(fc["yhat"].to_numpy() - test["y"].to_numpy()))
    assert err["seasonal_naive"] < 0.5 * err["naive"]


def test_quantile_bands_widen_with_the_horizon_and_cover():
    frame = make_frame(ids=("a",), periods=24 * 28, seed=1)
    train, test = frame.iloc[:-48], frame.iloc[-48:]
    fc = SeasonalNaive().fit(train).predict(48, quantiles=[0.05, 0.95])
    width = (fc["p95"] - fc["p5"]).to_numpy()
    assert width[30] > width[0]
    covered = ((test["y"].to_numpy() >= fc["p5"]) & (test["y"].to_numpy() <= fc["p95"])).mean()
    assert covered >= 0.8


def test_seasonal_quantile_uses_the_same_phase_of_past_seasons():
    day = np.arange(24, dtype=float)
    values = np.r_[day, day + 10, day + 20, day + 30]
    fc = SeasonalQuantile(season="daily", n_seasons=4).fit(_frame(values)).predict(24, quantiles=[0.5, 0.99])
    assert np.allclose(fc["yhat"], day + 15)
    assert np.allclose(fc["p99"], day + 29.7)


def test_too_little_history_names_the_series_and_the_fix():
    frame = pd.concat([_frame(np.ones(48), uid="long"), _frame(np.ones(10), uid="short")], ignore_index=True)
    with pytest.raises(ModelError, match="'short' has 10 observed steps, needs at least 24") as info:
        SeasonalNaive().fit(frame)
    assert "naive" in str(info.value)
    with pytest.raises(ModelError, match="'short'"):
        Naive().fit(pd.concat([_frame(np.ones(3)), _frame([np.nan, np.nan], uid="short")], ignore_index=True))


def test_bad_season_is_clear():
    with pytest.raises(ModelError, match="season must be"):
        SeasonalNaive(season="monthly").fit(make_frame())
    with pytest.raises(ModelError, match="n_seasons"):
        SeasonalQuantile(n_seasons=0).fit(make_frame())


def test_seasonal_quantile_with_missing_values_gives_numpys_nan_quantiles_bit_for_bit():
    from capforecast.models.baselines import _row_quantiles

    rng = np.random.default_rng(7)
    for _ in range(300):
        x = rng.integers(0, 300, (int(rng.integers(1, 40)), int(rng.integers(1, 12)))).astype(float) * 0.37
        x[rng.random(x.shape) < rng.choice([0.0, 0.2, 0.6])] = np.nan
        x[-1] = np.nan  # a row with nothing observed stays NaN, as numpy's
        levels = sorted(set(rng.choice([0.01, 0.1, 0.25, 0.5, 0.9, 0.95, 0.999], 3).tolist()))
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
            expected = np.nanquantile(x, levels, axis=1)
        np.testing.assert_array_equal(_row_quantiles(x, levels), expected)
    frame = make_frame(ids=("a",), periods=24 * 10)
    frame.loc[frame.index[::5], "y"] = np.nan  # missing steps make numpy take its slow path
    fc = SeasonalQuantile(season="daily", n_seasons=7).fit(frame).predict(24, quantiles=[0.25, 0.9])
    same_hour = frame["y"].to_numpy()[-7 * 24:].reshape(7, 24)  # the last 7 days, a row per day
    np.testing.assert_array_equal(fc["p90"].to_numpy(), np.nanquantile(same_hour, 0.9, axis=0))
