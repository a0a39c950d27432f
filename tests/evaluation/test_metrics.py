"""Metrics: the M4 definitions, NaN handling and clear errors; the scorer reproduces M4's published scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capforecast.errors import CapforecastError, ConfigError, FrameError
from capforecast.evaluation import m4
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


def test_point_metrics_by_hand() -> None:
    y = np.array([10.0, 20.0, 30.0])
    f = np.array([12.0, 20.0, 27.0])
    assert mae(y, f) == pytest.approx(5 / 3)
    assert rmse(y, f) == pytest.approx(np.sqrt(13 / 3))
    assert smape(y, f) == pytest.approx((200 * 2 / 22 + 0 + 200 * 3 / 57) / 3)
    # scale: |4-1|, |8-2| -> 4.5 with m=2
    assert seasonal_scale([1.0, 2.0, 4.0, 8.0], m=2) == pytest.approx(4.5)
    assert mase(y, f, insample=[1.0, 2.0, 4.0, 8.0], m=2) == pytest.approx((5 / 3) / 4.5)


def test_nan_actuals_are_skipped_and_zero_over_zero_is_zero() -> None:
    y = np.array([np.nan, 0.0, 4.0])
    f = np.array([5.0, 0.0, 2.0])
    assert mae(y, f) == pytest.approx(1.0)
    assert smape(y, f) == pytest.approx((0 + 200 * 2 / 6) / 2)
    assert np.isnan(mae([np.nan], [1.0]))


def test_quantile_metrics() -> None:
    y = np.arange(1.0, 11.0)
    upper = np.full(10, 9.0)
    assert coverage(y, upper) == pytest.approx(0.9)
    assert interval_coverage(y, np.full(10, 2.0), upper) == pytest.approx(0.8)
    # under-forecast by 1 costs q, over-forecast by 1 costs 1 - q
    assert pinball([2.0, 0.0], [1.0, 1.0], 0.9) == pytest.approx((0.9 + 0.1) / 2)


def test_bad_input_names_problem_and_fix() -> None:
    with pytest.raises(FrameError, match="shape"):
        smape([1.0, 2.0], [1.0])
    with pytest.raises(FrameError, match="NaN"):
        mae([1.0], [np.nan])
    with pytest.raises(ConfigError, match="between 0 and 1"):
        pinball([1.0], [1.0], 90)
    with pytest.raises(ConfigError, match="insample"):
        mase([1.0], [1.0])
    assert issubclass(FrameError, CapforecastError)


def test_season_length_from_step() -> None:
    assert season_length(pd.Timedelta(hours=1)) == 24
    assert season_length(pd.Timedelta(minutes=5)) == 288
    assert season_length(pd.Timedelta(days=1)) == 7
    assert season_length(pd.Timedelta(hours=5)) == 1
    assert season_length(pd.Timedelta(days=3.5)) == 2  # divides a week: the one rule the models use too
    with pytest.raises(ConfigError, match="positive"):
        season_length(pd.Timedelta(0))


@pytest.mark.needs_data("m4-hourly")
def test_scorer_reproduces_published_m4_hourly_scores() -> None:
    from capforecast.datasets import data_root

    m4_dir = data_root() / "m4-hourly"
    train = m4.read_m4_wide(m4_dir / "Hourly-train.csv")
    test = m4.read_m4_wide(m4_dir / "Hourly-test.csv")
    assert len(train) == len(test) == 414
    snaive = {k: np.resize(v[-24:], 48) for k, v in train.items()}
    naive2 = {k: m4.naive2_forecast(v, 48, 24) for k, v in train.items()}
    naive = {k: np.full(48, v[-1]) for k, v in train.items()}
    for name, fc in (("sNaive", snaive), ("Naive2", naive2), ("Naive", naive)):
        s, a = m4.score_m4(train, test, fc)
        pub = m4.M4_HOURLY_PUBLISHED[name]
        assert (round(s, 3), round(a, 3)) == (pub[0], pub[1]), name
    s, a = m4.score_m4(train, test, snaive)
    # OWA sits on a rounding edge (0.62750); M4 publishes 0.627
    assert m4.owa(s, a, m4.score_m4(train, test, naive2)) == pytest.approx(0.627, abs=6e-4)


def test_read_m4_wide_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(CapforecastError, match="not an M4 wide file"):
        m4.read_m4_wide(bad)
    with pytest.raises(CapforecastError, match="cannot read"):
        m4.read_m4_wide(tmp_path / "missing.csv")


def test_mase_on_a_history_that_repeats_exactly_is_finite_and_zero_for_a_perfect_forecast() -> None:
    from capforecast.evaluation.metrics import mase, zero_scale_fallback

    flat = np.full(48, 5.0)
    assert mase([5.0, 5.0], [5.0, 5.0], insample=flat, m=24) == 0.0  # was 0/0 = NaN: a win, not a failure
    assert mase([5.0, 5.0], [4.0, 7.0], insample=flat, m=24) == pytest.approx(1.5 / 5.0)  # was inf
    assert mase([0.0], [2.0], insample=np.zeros(48), m=24) == 2.0  # all zeros: scaled by 1
    assert mase([1.0], [1.0], scale=0.0) == 0.0 and mase([1.0], [3.0], scale=0.0) == 2.0
    assert zero_scale_fallback([np.nan, 2.0, -4.0]) == 3.0
    assert np.isnan(mase([1.0], [2.0], insample=np.ones(10), m=24))  # too short for a scale: unknown
