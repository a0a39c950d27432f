"""Hyperparameters round-trip through save/load with their types: a tuple stays a tuple, nothing becomes a repr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from capforecast.models import MODELS, load, model_class
from capforecast.models._params import decode_params, encode_params
from capforecast.models.auto import AutoForecaster
from capforecast.models.baselines import SeasonalNaive
from capforecast.models.gbm import GBMForecaster
from tests.conftest import make_frame


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same type all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def through_disk(params: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    encoded, pickled = encode_params(params)
    text = json.dumps(encoded)
    if pickled:
        import joblib

        joblib.dump(pickled, tmp_path / "params.joblib")
    return decode_params(json.loads(text), tmp_path / "params.joblib")


@pytest.mark.parametrize("alias", list(MODELS))
def test_every_registered_models_default_params_round_trip_with_their_types(alias: str, tmp_path: Path) -> None:
    params = model_class(alias)().get_params()
    back = through_disk(params, tmp_path)
    assert same(back, params), {k: (params[k], back[k]) for k in params if not same(params[k], back[k])}


def test_odd_values_round_trip_exactly(tmp_path: Path) -> None:
    params = {"t": (1, (2.5, "x"), [None, True]), "d": {"a": (1,), "b": [0.5]}, "n": np.int64(3),
              "f": np.float64(0.25), "p": Path("/tmp/x"), "nested": [np.int32(1)], "keys": {1: "a"},
              "tagged": {"__tuple__": [1]}}
    assert same(through_disk(params, tmp_path), params)


def test_fitted_models_save_and_load_with_their_param_types(tmp_path: Path) -> None:
    frame = make_frame(periods=24 * 21)
    models = [SeasonalNaive(season=np.int64(24)), GBMForecaster(horizon=6, quantiles=(0.1, 0.5, 0.9), max_iter=5),
              AutoForecaster(candidates=("seasonal_naive", "naive", "seasonal_median_daily"), n_windows=1)]
    for i, model in enumerate(models):
        model.fit(frame).save(tmp_path / str(i))
        back = load(tmp_path / str(i))
        assert same(back.get_params(), model.get_params()), (back.get_params(), model.get_params())
    meta = json.loads((tmp_path / "0" / "metadata.json").read_text())
    assert meta["params"]["season"] == {"__joblib__": "np.int64(24)"}  # shown readably, stored exactly
    assert json.loads((tmp_path / "1" / "metadata.json").read_text())["params"]["quantiles"] == {
        "__tuple__": [0.1, 0.5, 0.9]}


def test_models_saved_with_plain_json_params_still_load(tmp_path: Path) -> None:
    model = GBMForecaster(horizon=6, quantiles=(0.1, 0.5, 0.9), max_iter=5).fit(make_frame(periods=24 * 21))
    model.save(tmp_path / "m")
    meta_file = tmp_path / "m" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta["params"]["quantiles"] = [0.1, 0.5, 0.9]  # as capforecast 0.2.0 wrote it
    meta_file.write_text(json.dumps(meta))
    assert load(tmp_path / "m").get_params()["quantiles"] == [0.1, 0.5, 0.9]
