import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from capforecast.errors import ModelError, NotFittedError
from capforecast.models import get_model, load

TINY = {"horizon": 12, "input_steps": 48, "units": 6, "dense_units": 8, "epochs": 3, "batch_size": 64,
        "verbose": 0, "quantiles": (0.1, 0.5, 0.9)}


@pytest.fixture(scope="module")
def fitted(hard):
    frame = hard(exog=True)
    return get_model("lstm", **TINY).fit(frame), frame


def test_importing_the_module_does_not_import_tensorflow():
    code = "import capforecast.models.lstm, sys; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=".")
    assert out.stdout.strip() == "False False"


def test_network_builder_gives_non_crossing_quantiles_for_any_weights():
    import keras

    from capforecast.models._lstm_net import build_lstm_network

    keras.utils.set_random_seed(3)
    net = build_lstm_network(input_steps=10, past_features=7, horizon=5, future_features=4, n_quantiles=4,
                             median_index=2, units=4, dense_units=4)
    assert net.output_shape == (None, 5, 4)
    rng = np.random.default_rng(0)
    out = net.predict({"past": rng.normal(0, 50, (8, 10, 7)), "future": rng.normal(0, 50, (8, 5, 4))}, verbose=0)
    assert (np.diff(out, axis=-1) >= 0).all()


def test_lstm_forecasts_every_series_and_reports_fallbacks(fitted):
    model, _ = fitted
    fc = model.predict(12, quantiles=[0.1, 0.5, 0.9])
    assert fc.groupby("unique_id").size().to_dict() == {u: 12 for u in model.ids_}
    assert np.isfinite(fc[["yhat", "p10", "p50", "p90"]].to_numpy()).all()
    assert set(model.fallbacks_) == {"const", "zero", "short"}
    assert model.outages_ == {"big": 30}
    assert model.exog_cols_ == ["pending"]
    assert (fc[fc.unique_id == "zero"]["p90"] == 0.0).all()
    big = fc[fc.unique_id == "big"]["yhat"]
    assert big.mean() > 100  # scaled back to the series' own size


def test_lstm_save_load_predict_identical(fitted, tmp_path):
    model, _ = fitted
    model.save(tmp_path / "lstm")
    again = load(tmp_path / "lstm")
    pd.testing.assert_frame_equal(model.predict(12, [0.5, 0.8]), again.predict(12, [0.5, 0.8]))


def test_lstm_is_deterministic_under_a_seed(seasonal):
    frame = seasonal(days=5)
    a = get_model("lstm", **TINY).fit(frame).predict(12)
    b = get_model("lstm", **TINY).fit(frame).predict(12)
    pd.testing.assert_frame_equal(a, b)


def test_lstm_clear_errors(fitted, seasonal):
    model, _ = fitted
    with pytest.raises(ModelError, match="horizon=24"):
        model.predict(24)
    with pytest.raises(ModelError, match="outside the levels"):
        model.predict(6, quantiles=[0.99])
    with pytest.raises(NotFittedError):
        get_model("lstm").predict(3)
    with pytest.raises(ModelError, match="no series is long enough"):
        get_model("lstm", **{**TINY, "input_steps": 500}).fit(seasonal(days=5))
    with pytest.raises(ModelError, match="units"):
        get_model("lstm", units=0).fit(seasonal())


def test_lstm_progress_is_silenced_and_windows_capped(seasonal, capsys, caplog):
    with caplog.at_level(logging.INFO):
        model = get_model("lstm", **{**TINY, "epochs": 1, "max_windows": 40}).fit(seasonal(days=5))
    assert "Epoch" not in capsys.readouterr().out
    assert model.n_windows_ == 40  # the cap on training windows holds


def test_lstm_update_moves_the_forecast_origin(fitted, hard):
    model, frame = fitted
    before = model.predict(12)
    newer = hard(days=15, exog=True)
    model.update(newer)
    after = model.predict(12)
    assert after["ds"].min() == newer["ds"].max() + pd.Timedelta("1h")
    assert np.isfinite(after["yhat"]).all() and not np.allclose(before["yhat"], after["yhat"])
    model.update(frame)
    pd.testing.assert_frame_equal(model.predict(12), before)
