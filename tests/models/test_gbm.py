import logging

import numpy as np
import pandas as pd
import pytest

from capforecast.errors import ModelError, NotFittedError
from capforecast.models import get_model, load

SMALL = {"horizon": 24, "max_iter": 15, "max_rows": 4000}


def test_gbm_survives_hard_inputs_and_reports_fallbacks(caplog, hard, seasonal):
    with caplog.at_level(logging.WARNING):
        model = get_model("gbm", **SMALL).fit(hard())
    fc = model.predict(24, quantiles=[0.5, 0.9, 0.99])
    assert np.isfinite(fc[["yhat", "p50", "p90", "p99"]].to_numpy()).all()
    assert set(model.fallbacks_) == {"const", "zero", "short"}
    assert "constant" in model.fallbacks_["const"] and "two seasons" in model.fallbacks_["short"]
    assert "short" in caplog.text
    assert model.outages_ == {"big": 30}
    const = fc[fc.unique_id == "const"]
    assert (const["yhat"] == 8.0).all()
    assert (fc["p99"] >= fc["p90"]).all() and (fc["p90"] >= fc["p50"]).all()


def test_gbm_learns_the_daily_cycle_and_scale(hard, seasonal):
    frame = seasonal()
    fc = get_model("gbm", **SMALL).fit(frame).predict(24, quantiles=[0.5])
    for uid, g in fc.groupby("unique_id"):
        actual_level = frame[frame.unique_id == uid]["y"].tail(24).mean()
        assert g["yhat"].mean() == pytest.approx(actual_level, rel=0.15)
        assert g["yhat"].max() - g["yhat"].min() > 0.5 * (actual_level / 3)  # follows the cycle


def test_gbm_save_load_predict_identical(tmp_path, hard, seasonal):
    model = get_model("gbm", **SMALL).fit(hard(exog=True))
    model.save(tmp_path / "m")
    again = load(tmp_path / "m")
    pd.testing.assert_frame_equal(model.predict(24, [0.5, 0.95]), again.predict(24, [0.5, 0.95]))


def test_gbm_same_seed_same_forecast_and_clear_errors(hard, seasonal):
    a = get_model("gbm", **SMALL).fit(seasonal()).predict(12)
    b = get_model("gbm", **SMALL).fit(seasonal()).predict(12)
    pd.testing.assert_frame_equal(a, b)
    model = get_model("gbm", **SMALL)
    with pytest.raises(NotFittedError):
        model.predict(3)
    model.fit(seasonal())
    with pytest.raises(ModelError, match="horizon=48"):
        model.predict(48)
    with pytest.raises(ModelError, match="outside the levels"):
        model.predict(12, quantiles=[0.999])
    with pytest.raises(ModelError, match="max_iter"):
        get_model("gbm", max_iter=0).fit(seasonal())


def test_gbm_update_forecasts_from_newer_history_without_retraining(hard, seasonal):
    frame = seasonal()
    older = frame[frame["ds"] < frame["ds"].max() - pd.Timedelta("23h")]
    model = get_model("gbm", **SMALL).fit(older)
    fresh = get_model("gbm", **SMALL).fit(older).update(frame).predict(12)
    assert fresh["ds"].min() == frame["ds"].max() + pd.Timedelta("1h")
    assert not np.allclose(fresh["yhat"], model.predict(12)["yhat"])
    pd.testing.assert_frame_equal(model.update(older).predict(12), get_model("gbm", **SMALL).fit(older).predict(12))
    with pytest.raises(ModelError, match="were not in the training data"):
        model.update(frame.assign(unique_id=frame["unique_id"] + "x"))


def test_gbm_fits_under_a_week_of_hourly_history(seasonal):
    # The weekly-lag feature is all NaN with under a week of history; scikit-learn's binning used to raise
    # "window shape cannot be larger than input array shape" on it.
    frame = seasonal(days=4)
    model = get_model("gbm", **SMALL).fit(frame)
    assert model.empty_features_.any()
    fc = model.predict(24, quantiles=[0.5])
    assert np.isfinite(fc["yhat"]).all()
    for uid, g in fc.groupby("unique_id"):
        assert g["yhat"].mean() == pytest.approx(frame[frame.unique_id == uid]["y"].tail(24).mean(), rel=0.15)


def _trending(days: int = 21, growth: float = 8.0, n: int = 4) -> pd.DataFrame:
    """Series at different levels, each growing ``growth``-fold over the window, with a daily cycle."""
    t = np.arange(24 * days)
    ds = pd.date_range("2026-02-02", periods=len(t), freq="h", tz="UTC")
    rng = np.random.default_rng(0)
    parts = []
    for k in range(n):
        level = (k + 1) * 20 * growth ** (t / len(t))
        y = level * (1 + 0.3 * np.sin(2 * np.pi * t / 24)) * (1 + rng.normal(0, 0.02, len(t)))
        parts.append(pd.DataFrame({"unique_id": f"s{k}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def test_window_normalized_gbm_follows_a_trend_beyond_the_levels_it_was_trained_on():
    frame = _trending()
    cut = frame["ds"].max() - pd.Timedelta("24h")
    train, test = frame[frame["ds"] <= cut], frame[frame["ds"] > cut]
    params = {"horizon": 24, "max_iter": 40, "max_rows": 10_000, "quantiles": (0.5,)}
    errors = {}
    for normalize in ("series", "window"):
        fc = get_model("gbm", normalize=normalize, **params).fit(train).predict(24, quantiles=[0.5])
        both = fc.merge(test, on=["unique_id", "ds"])
        errors[normalize] = float((both["yhat"] - both["y"]).abs().mean() / both["y"].mean())
    # the newest day is above anything seen: trees on series-scaled values cannot go there, on shapes they can
    assert errors["window"] < 0.04 and errors["window"] < 0.5 * errors["series"], errors
    with pytest.raises(ModelError, match="normalize must be 'series' or 'window'"):
        get_model("gbm", normalize="level").fit(train)


def test_bagged_gbm_averages_regressors_trained_on_different_rows(tmp_path, seasonal):
    frame = seasonal()
    one = get_model("gbm", **SMALL).fit(frame)
    bagged = get_model("gbm", n_bags=3, **SMALL).fit(frame)
    assert all(len(regs) == 3 for regs in bagged.models_.values()) and bagged.n_rows_ > one.n_rows_
    fc = bagged.predict(24, quantiles=[0.5, 0.9])
    assert not np.allclose(fc["yhat"], one.predict(24, quantiles=[0.5, 0.9])["yhat"])
    pd.testing.assert_frame_equal(fc, get_model("gbm", n_bags=3, **SMALL).fit(frame).predict(24, [0.5, 0.9]))
    bagged.save(tmp_path / "m")
    pd.testing.assert_frame_equal(fc, load(tmp_path / "m").predict(24, quantiles=[0.5, 0.9]))
    with pytest.raises(ModelError, match="n_bags"):
        get_model("gbm", n_bags=0).fit(frame)
