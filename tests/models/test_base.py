"""The model contract, checked on every baseline (other models have their own tests of the same contract)."""

import json

import numpy as np
import pandas as pd
import pytest

from capforecast import frames
from capforecast.errors import ModelError, NotFittedError
from capforecast.models import MODELS, get_model, load, model_class
from tests.conftest import make_frame

BASELINES = ["naive", "seasonal_naive", "seasonal_quantile"]


@pytest.mark.parametrize("alias", BASELINES)
def test_fit_returns_self_and_predict_returns_a_forecast_frame(alias, frame):
    model = get_model(alias)
    assert model.fit(frame) is model
    fc = model.predict(30, quantiles=[0.1, 0.5, 0.9, 0.995])
    assert list(fc.columns) == ["unique_id", "ds", "model", "yhat", "p10", "p50", "p90", "p99.5"]
    assert (fc["model"] == alias).all()
    assert fc.groupby("unique_id").size().to_dict() == {"a": 30, "b": 30}
    first = fc.groupby("unique_id")["ds"].min()
    assert (first == frame.groupby("unique_id")["ds"].max() + pd.Timedelta("1h")).all()
    q = fc[["p10", "p50", "p90", "p99.5"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    frames.validate_forecast(fc)


@pytest.mark.parametrize("alias", BASELINES)
def test_predict_before_fit_is_a_clear_not_fitted_error(alias):
    with pytest.raises(NotFittedError, match="call fit") as info:
        get_model(alias).predict(5)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)


@pytest.mark.parametrize("alias", BASELINES)
def test_save_load_round_trips_exactly(alias, frame, tmp_path):
    model = get_model(alias).fit(frame)
    model.save(tmp_path / "m")
    again = load(tmp_path / "m")
    assert type(again) is type(model) and again.get_params() == model.get_params()
    pd.testing.assert_frame_equal(model.predict(48, [0.5, 0.9]), again.predict(48, [0.5, 0.9]))


def test_save_replaces_an_old_model_only_when_complete(frame, tmp_path, monkeypatch):
    target = tmp_path / "m"
    get_model("naive").fit(frame).save(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    model = get_model("seasonal_naive").fit(frame)

    def boom(directory):
        (directory / "partial").write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(model, "_save_state", boom)
    with pytest.raises(OSError):
        model.save(target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_loading_garbage_is_a_clear_error(tmp_path, frame):
    with pytest.raises(ModelError, match="not a saved capforecast model"):
        load(tmp_path)
    get_model("naive").fit(frame).save(tmp_path / "m")
    (tmp_path / "m" / "state.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="corrupt"):
        load(tmp_path / "m")
    meta = tmp_path / "m" / "metadata.json"
    meta.write_text(json.dumps({"format": "capforecast-model", "class": "nowhere:Nothing"}))
    with pytest.raises(ModelError, match="corrupt or from an incompatible version"):
        load(tmp_path / "m")


def test_registry_and_params():
    assert set(BASELINES) <= set(MODELS)
    model = get_model("seasonal_naive", season="weekly")
    assert model.get_params() == {"season": "weekly"}
    assert repr(model) == "SeasonalNaive(season='weekly')"
    with pytest.raises(ModelError, match="unknown model"):
        model_class("prophet")
    with pytest.raises(ModelError, match="parameters"):
        get_model("naive", season="daily")


@pytest.mark.parametrize("horizon", [0, -1, 2.5, True])
def test_bad_horizon(horizon, frame):
    with pytest.raises(ModelError, match="horizon"):
        get_model("naive").fit(frame).predict(horizon)


def test_fit_validates_its_input(frame):
    with pytest.raises(ValueError, match="float64"):
        get_model("naive").fit(frame.assign(y=frame["y"].round().astype(int)))


def test_import_capforecast_does_not_import_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys, capforecast, capforecast.models, capforecast.frames, capforecast.cli;"
        "capforecast.cli.build_parser();"
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_frame_helper_is_deterministic():
    pd.testing.assert_frame_equal(make_frame(seed=3), make_frame(seed=3))
