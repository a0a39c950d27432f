import logging
import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from capforecast.errors import ModelError, NotFittedError
from capforecast.models import get_model, load
from capforecast.models._windows import SeriesBank

TINY = {"horizon": 12, "input_steps": 48, "units": 6, "dense_units": 8, "train_steps": 30, "batch_size": 32,
        "members": 2, "verbose": 0, "quantiles": (0.1, 0.5, 0.9)}


@pytest.fixture(scope="module")
def fitted(hard):
    frame = hard(exog=True)
    return get_model("lstm", **TINY).fit(frame), frame


def test_importing_the_module_does_not_import_tensorflow():
    code = "import capforecast.models.lstm, sys; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=".")
    assert out.stdout.strip() == "False False"


def test_untrained_network_is_seasonal_naive_and_quantiles_never_cross():
    from capforecast.models._lstm_net import build_lstm_network

    net = build_lstm_network(days=2, row_features=10, glob_features=6, horizon=5, n_quantiles=4, median_index=2,
                             units=4, dense_units=4, seed=3)
    assert net.output_shape == (None, 5, 4)
    rng = np.random.default_rng(0)
    out = np.asarray(net.predict_on_batch({"past": rng.normal(0, 50, (8, 2, 10)), "glob": rng.normal(0, 5, (8, 6))}))
    assert (np.diff(out, axis=-1) >= 0).all()
    np.testing.assert_array_equal(out[..., 2], 0.0)  # a zero residual over the anchor: seasonal naive


def test_untrained_week_gate_adds_nothing_and_the_bank_gives_the_week_back():
    from capforecast.models._lstm_net import build_lstm_network

    net = build_lstm_network(days=7, row_features=24, glob_features=2, horizon=6, n_quantiles=3, median_index=1,
                             units=4, dense_units=4, seed=1, weekly=True)
    rng = np.random.default_rng(0)
    x = {"past": rng.normal(0, 5, (4, 7, 24)), "glob": rng.normal(0, 1, (4, 2)), "delta": rng.normal(0, 9, (4, 6))}
    np.testing.assert_array_equal(np.asarray(net.predict_on_batch(x))[..., 1], 0.0)  # still seasonal naive
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    y = np.arange(1.0, 24 * 21 + 1)
    bank = SeriesBank([y], [np.zeros((len(y), 0))], [t0], pd.Timedelta("1h"), input_steps=168, horizon=30, m=24,
                      weekly=True)
    o = bank.origin(0, 24 * 14 - 1)
    b = bank.batch(np.array([o]))
    week_back = y[24 * 14 - 168: 24 * 14 - 168 + 30] / b["level"][0]
    np.testing.assert_allclose(b["delta"][0] + b["anchor"][0], week_back, rtol=1e-5)
    assert "delta" not in SeriesBank([y], [np.zeros((len(y), 0))], [t0], pd.Timedelta("1h"), input_steps=48,
                                     horizon=30, m=24, weekly=True).batch(np.array([o]))  # under a week of input


def test_weekly_auto_needs_enough_weeks_and_the_floor_holds(seasonal):
    frame = seasonal(days=21)
    model = get_model("lstm", **{**TINY, "input_steps": 168}).fit(frame)
    assert model.weekly_ is False  # two series x 3 weeks: far under WEEKLY_MIN_WEEKS
    fc = model.predict(12, quantiles=[0.1, 0.5, 0.9])
    for uid, g in frame.groupby("unique_id"):
        low = g["y"].to_numpy()[-24:].min()
        part = fc[fc["unique_id"] == uid]
        assert (part["p50"] >= low - 1e-6).all() and (part["p90"] >= low - 1e-6).all()
    forced = get_model("lstm", **{**TINY, "input_steps": 168, "weekly": True}).fit(frame)
    assert forced.weekly_ is True and forced.nets_[0].get_layer("week_gate") is not None


def test_held_out_windows_decide_how_far_the_forecast_is_pulled_back_to_its_anchor():
    from capforecast.models._lstm_heldout import shrink_weight

    rng = np.random.default_rng(0)
    target = rng.normal(0, 1, (60, 8))
    assert shrink_weight(target, target, np.ones(60)) == 0.0                              # right: trusted
    assert shrink_weight(target, rng.normal(0, 1, (60, 8)), np.ones(60)) >= 0.8           # noise: the anchor
    noisy = target + rng.normal(0, 1, (60, 8))                 # half signal, half noise: about halfway
    assert 0.3 <= shrink_weight(target, noisy, np.ones(60)) <= 0.7
    mixed = np.concatenate([target[:30], rng.normal(0, 1, (30, 8))])
    # the MASE weight decides which windows count
    assert shrink_weight(target, mixed, np.where(np.arange(60) < 30, 1.0, 1e-9)) == 0.0
    assert shrink_weight(target, mixed, np.where(np.arange(60) < 30, 1e-9, 1.0)) >= 0.8
    assert shrink_weight(target, np.full_like(target, np.nan), np.ones(60)) == 0.0        # nothing observed


def test_shrink_one_is_seasonal_naive_and_the_fitted_weight_is_kept(seasonal, tmp_path):
    frame = seasonal(days=10)
    anchored = get_model("lstm", **{**TINY, "shrink": 1.0}).fit(frame)
    naive = get_model("seasonal_naive").fit(frame)
    np.testing.assert_allclose(anchored.predict(12)["yhat"], naive.predict(12)["yhat"], rtol=1e-5)
    model = get_model("lstm", **TINY).fit(frame)  # default: the factor the held-out network earned
    assert 0.0 <= model.shrink_ <= 1.0
    model.save(tmp_path / "m")
    assert load(tmp_path / "m").shrink_ == model.shrink_


def test_bank_normalises_by_the_origin_level_and_holds_out_the_newest_steps():
    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    y = 10.0 * np.tile(1 + np.sin(2 * np.pi * np.arange(24) / 24), 10) * np.repeat(np.arange(1, 11), 24)
    bank = SeriesBank([y], [np.zeros((240, 0))], [t0], pd.Timedelta("1h"), input_steps=48, horizon=24, m=24)
    o = bank.origin(0, 119)  # end of day 5, where the level is 50
    b = bank.batch(np.array([o]))
    assert b["level"][0] == pytest.approx(50.0)
    assert b["past"].shape == (1, 2, 48)
    np.testing.assert_allclose(b["anchor"][0], y[96:120] / 50.0, rtol=1e-6)
    np.testing.assert_allclose(b["target"][0], (y[120:144] - y[96:120]) / 50.0, rtol=1e-5)  # residual over anchor
    cut = 30
    held = bank.mask_after(cut)
    for origin in bank.origins(cut=cut):  # every training origin sees a target before the held-out steps
        fut = held[origin + 1: origin + 25]
        assert np.isfinite(fut).any()
    assert np.isnan(held[bank.origin(0, 240 - cut): bank.origin(0, 240)]).all()
    assert np.isfinite(bank.y[bank.origin(0, 240 - cut): bank.origin(0, 240)]).all()


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
    assert len(model.nets_) == 2 and model.offsets_.shape == (12, 3)
    np.testing.assert_array_equal(model.offsets_[:, 1], 0.0)  # the median is not shifted


def test_lstm_save_load_predict_identical(fitted, tmp_path):
    model, _ = fitted
    model.save(tmp_path / "lstm")
    again = load(tmp_path / "lstm")
    pd.testing.assert_frame_equal(model.predict(12, [0.5, 0.8]), again.predict(12, [0.5, 0.8]))


def test_lstm_is_deterministic_under_a_seed_and_leaves_global_rngs_alone(seasonal):
    frame = seasonal(days=6)
    np.random.seed(123)
    random.seed(7)
    state, py_state = np.random.get_state(), random.getstate()
    a = get_model("lstm", **TINY).fit(frame).predict(12)
    b = get_model("lstm", **TINY).fit(frame).predict(12)
    c = get_model("lstm", **{**TINY, "seed": 1}).fit(frame).predict(12)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["yhat"], c["yhat"])
    after = np.random.get_state()
    assert after[0] == state[0] and (after[1] == state[1]).all() and after[2:] == state[2:]
    assert random.getstate() == py_state


def test_lstm_learns_a_weekly_pattern_seasonal_naive_misses():
    """Weekdays high, weekends low: seasonal naive (yesterday) is wrong every Saturday and Monday."""
    n = 24 * 7 * 8
    ds = pd.date_range("2026-01-05", periods=n, freq="h", tz="UTC")  # a Monday
    rng = np.random.default_rng(0)
    day = 20 + 10 * np.sin(2 * np.pi * np.arange(n) / 24)
    week = np.where(ds.day_of_week >= 5, 0.4, 1.0)
    frame = pd.concat([pd.DataFrame({"unique_id": f"s{k}", "ds": ds,
                                     "y": (k + 1) * day * week * rng.normal(1, 0.02, n)}) for k in range(3)])
    h = 48
    test_mask = frame.groupby("unique_id").cumcount(ascending=False) < h
    train, test = frame[~test_mask], frame[test_mask]
    # the held-out two days are Sunday and Monday (seasonal naive forecasts a weekend Monday)
    model = get_model("lstm", horizon=h, input_steps=168, units=16, dense_units=32, members=1, train_steps=300,
                      verbose=0).fit(train)
    fc = model.predict(h, quantiles=[0.5])
    err = np.abs(fc["yhat"].to_numpy() - test["y"].to_numpy()).mean()
    naive = get_model("seasonal_naive").fit(train).predict(h, quantiles=[0.5])
    err_naive = np.abs(naive["yhat"].to_numpy() - test["y"].to_numpy()).mean()
    assert err < 0.5 * err_naive, (err, err_naive)


def test_lstm_clear_errors(fitted, seasonal):
    model, _ = fitted
    with pytest.raises(ModelError, match="horizon=24"):
        model.predict(24)
    with pytest.raises(ModelError, match="outside the levels"):
        model.predict(6, quantiles=[0.99])
    with pytest.raises(NotFittedError):
        get_model("lstm").predict(3)
    with pytest.raises(ModelError, match="units"):
        get_model("lstm", units=0).fit(seasonal())
    with pytest.raises(ModelError, match="anchor"):
        get_model("lstm", anchor="mean").fit(seasonal())
    for key, bad in (("weekly", "sometimes"), ("floor", "zero"), ("weight_power", -1), ("weight_power", "x"),
                     ("shrink", "sometimes"), ("shrink", 1.5), ("shrink", True)):
        with pytest.raises(ModelError, match=key):
            get_model("lstm", **{key: bad}).fit(seasonal())


def test_lstm_short_history_falls_back_and_progress_is_silenced(seasonal, capsys, caplog):
    with caplog.at_level(logging.INFO):
        model = get_model("lstm", **TINY).fit(seasonal(days=1))  # under two seasons: every series falls back
    assert "Epoch" not in capsys.readouterr().out
    assert set(model.fallbacks_) == {"a", "b"} and not model.nets_
    assert np.isfinite(model.predict(12)["yhat"]).all()


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


def test_held_out_windows_forecast_in_chunks_give_the_same_calibration(seasonal, monkeypatch):
    from capforecast.models import _lstm_train

    frame = seasonal(days=10)
    whole = get_model("lstm", **TINY, seed=3).fit(frame)
    monkeypatch.setattr(_lstm_train, "PREDICT_CHUNK", 7)  # many chunks of held-out windows, not one batch
    chunked = get_model("lstm", **TINY, seed=3).fit(frame)
    assert whole.offsets_ is not None and whole.shrink_ == chunked.shrink_
    np.testing.assert_array_equal(whole.offsets_, chunked.offsets_)
    pd.testing.assert_frame_equal(whole.predict(12), chunked.predict(12))
