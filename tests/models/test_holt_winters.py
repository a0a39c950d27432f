import numpy as np
import pandas as pd
import pytest

from capforecast.errors import ModelError
from capforecast.models import get_model, load


def test_holt_winters_handles_hard_inputs(hard, seasonal):
    model = get_model("holt_winters", n_paths=100).fit(hard())
    fc = model.predict(24, quantiles=[0.1, 0.5, 0.9])
    assert np.isfinite(fc[["yhat", "p10", "p50", "p90"]].to_numpy()).all()
    assert {"const", "zero", "short"} <= set(model.fallbacks_)
    assert model.filled_["big"] == 30 and model.filled_["gappy"] == 8
    assert ((fc["p90"] >= fc["p50"]) & (fc["p50"] >= fc["p10"])).all()


def test_holt_winters_tracks_the_season_and_brackets_it_with_quantiles(hard, seasonal):
    frame = seasonal(ids=("a",))
    fc = get_model("holt_winters", n_paths=300).fit(frame).predict(48, quantiles=[0.05, 0.95])
    hist = frame["y"].to_numpy()
    np.testing.assert_allclose(fc["yhat"].to_numpy()[:24], hist[-24:], atol=4.0)
    assert ((fc["p5"] < fc["yhat"]) & (fc["yhat"] < fc["p95"])).all()


def test_holt_winters_save_load_identical(tmp_path, hard, seasonal):
    model = get_model("holt_winters", n_paths=100).fit(hard())
    model.save(tmp_path / "hw")
    pd.testing.assert_frame_equal(model.predict(12, [0.5, 0.9]), load(tmp_path / "hw").predict(12, [0.5, 0.9]))


def test_holt_winters_bad_parameter(hard, seasonal):
    with pytest.raises(ModelError, match="trend must be"):
        get_model("holt_winters", trend="mul").fit(seasonal())


def test_smoothed_states_are_causal_and_a_gap_only_moves_the_level():
    from capforecast.models.holt_winters import smoothed_states

    rng = np.random.default_rng(0)
    y = 50 + 10 * np.sin(2 * np.pi * np.arange(24 * 5) / 24) + rng.normal(0, 2, 24 * 5)
    y[60:63] = np.nan
    level, trend, season = smoothed_states(y, 24, alpha=0.5, beta=0.1, gamma=0.3)
    changed = y.copy()
    changed[80:] += 100.0  # the future differs: no state before step 80 may change
    level2, trend2, season2 = smoothed_states(changed, 24, alpha=0.5, beta=0.1, gamma=0.3)
    np.testing.assert_array_equal(level[:80], level2[:80])
    np.testing.assert_array_equal(season[: 24 + 80], season2[: 24 + 80])
    assert not np.allclose(level[80:], level2[80:])
    # inside the gap the level follows the trend and the seasonal terms are those of a season before
    np.testing.assert_allclose(level[60:63], level[59] + trend[59] * np.arange(1, 4))
    np.testing.assert_array_equal(season[24 + 60: 24 + 63], season[60:63])
    # one step's update, by hand (the seasonal term written on the new level)
    s, lv = season[24 + 10 - 24], level[9] + trend[9]
    new = 0.5 * (y[10] - s) + 0.5 * lv
    assert level[10] == pytest.approx(new)
    assert season[24 + 10] == pytest.approx(0.3 * (y[10] - new) + 0.7 * s)
