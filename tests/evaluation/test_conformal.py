"""Conformal quantiles: finite-sample levels, groups, and coverage out of sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capforecast.errors import ConfigError, FrameError
from capforecast.evaluation import conformal_offsets, conformalize


def test_offsets_are_finite_sample_order_statistics() -> None:
    res = np.arange(1.0, 20.0)  # 19 residuals
    off = conformal_offsets(res, [0.1, 0.5, 0.9, 0.999])
    assert off[0.9] == 18.0          # ceil(20 * 0.9) = 18th smallest
    assert off[0.5] == 10.0
    assert off[0.1] == 2.0           # floor(20 * 0.1) = 2nd smallest
    assert off[0.999] == 19.0        # beyond n/(n+1): the largest
    grouped = conformal_offsets(np.array([[1.0, 2.0, 3.0], [np.nan, np.nan, np.nan]]), [0.5])
    assert grouped[0.5][0] == 2.0 and np.isnan(grouped[0.5][1])


def test_calibrated_p90_covers_about_90_percent_out_of_sample() -> None:
    rng = np.random.default_rng(7)
    calib = rng.standard_t(4, 500) * 3
    future = rng.standard_t(4, 20000) * 3
    off = conformal_offsets(calib, [0.9, 0.99])
    assert np.mean(future <= off[0.9]) == pytest.approx(0.9, abs=0.03)
    assert np.mean(future <= off[0.99]) == pytest.approx(0.99, abs=0.01)


def test_conformalize_a_forecast_frame_per_series() -> None:
    ds = pd.date_range("2026-01-01", periods=2, freq="h", tz="UTC")
    fc = pd.DataFrame({"unique_id": ["a", "a", "b", "b"], "ds": list(ds) * 2, "model": "m",
                       "yhat": [10.0, 10.0, 0.0, 0.0], "p50": [10.0, 10.0, 0.0, 0.0],
                       "p90": [10.5, 10.5, 0.1, 0.1]})
    bt = pd.DataFrame({"unique_id": ["a"] * 9 + ["b"] * 9, "yhat": 0.0,
                       "y": list(np.arange(1.0, 10.0)) + list(-np.arange(1.0, 10.0))})
    out = conformalize(fc, bt)
    assert out.loc[out.unique_id == "a", "p90"].tolist() == [19.0, 19.0]
    assert out.loc[out.unique_id == "b", "p90"].tolist() == [-1.0, -1.0]
    assert (out["p90"] >= out["p50"]).all()
    with pytest.raises(FrameError, match="no backtest residuals"):
        conformalize(fc, bt[bt.unique_id == "a"])


def test_bad_levels() -> None:
    with pytest.raises(ConfigError, match="between 0 and 1"):
        conformal_offsets([1.0, 2.0], [90])


def test_a_series_without_any_residual_falls_back_to_a_wide_band_and_says_so(caplog) -> None:
    ds = pd.date_range("2026-01-03", periods=2, freq="h", tz="UTC")
    fc = pd.DataFrame({"unique_id": ["a", "a", "b", "b"], "ds": list(ds) * 2, "model": "m",
                       "yhat": 10.0, "p50": 10.0, "p90": [10.5, 10.5, 13.0, 13.0], "p99": [11.0, 11.0, 16.0, 16.0]})
    bt = pd.DataFrame({"unique_id": ["a"] * 9 + ["b"] * 9, "yhat": 0.0,
                       "y": list(np.arange(1.0, 10.0)) + [np.nan] * 9})  # b: every backtest actual missing
    with caplog.at_level("WARNING", logger="capforecast.evaluation.conformal"):
        out = conformalize(fc, bt)
    b = out[out.unique_id == "b"]
    assert b["p90"].tolist() == [13.0, 13.0] and b["p99"].tolist() == [16.0, 16.0]  # its own band, not yhat
    assert "no backtest residual for 1 series" in caplog.text and "['b'] keep the forecast's own quantiles" \
        in caplog.text
    # with the history, b is calibrated on its in-sample seasonal errors (hour-of-day differences, 0..47)
    hist_ds = pd.date_range("2026-01-01", periods=48, freq="h", tz="UTC")
    history = pd.DataFrame({"unique_id": ["a"] * 48 + ["b"] * 48, "ds": list(hist_ds) * 2,
                            "y": np.r_[np.full(48, 5.0), np.zeros(24), np.arange(1.0, 25.0)]})
    caplog.clear()
    with caplog.at_level("WARNING", logger="capforecast.evaluation.conformal"):
        out = conformalize(fc, bt, history=history)
    b = out[out.unique_id == "b"]
    assert b["p90"].tolist() == [33.0, 33.0] and b["p99"].tolist() == [34.0, 34.0]  # 10 + the 23rd, 24th of 1..24
    assert "['b'] calibrated on their in-sample seasonal errors" in caplog.text
    assert out.loc[out.unique_id == "a", "p90"].tolist() == [19.0, 19.0]  # a: its own residuals, as before
