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
