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
