"""A notebook user's mistakes in simulate's arguments: one PlanningError naming the fix, before any work."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from capforecast.errors import PlanningError
from capforecast.planning import PoolSpec
from capforecast.planning.simulate import ForecastMethod, simulate

DS = pd.date_range("2026-05-01", periods=24 * 12, freq="h", tz="UTC")
FRAME = pd.DataFrame({"unique_id": "a", "ds": DS, "y": 40 + 20 * np.sin(2 * np.pi * np.arange(len(DS)) / 24)})
POOL = PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=20, lead_time="0s", scale_in_cooldown="0s")
FAST = ForecastMethod(model="naive")


@pytest.mark.parametrize(("kwargs", "fix"), [
    ({"pools": "pools.yaml"}, "load_pools(path)"),
    ({"pools": POOL}, "load_pools(path)"),
    ({"pools": [{"name": "a"}]}, "load_pools(path)"),
    ({"method": "auto"}, "method=ForecastMethod(model="),
    ({"baselines": ("static", "no_such")}, "choose one of holt_winters, predict_linear, reactive"),
    ({"baselines": "static"}, "baselines=('static', 'reactive')"),
    ({"test_days": "2"}, "test_days must be a positive number of days"),
    ({"val_days": True}, "val_days must be a positive number of days"),
])
def test_a_wrong_argument_is_one_planning_error_with_the_fix(kwargs, fix):
    args = {"pools": [POOL], "method": FAST, "test_days": 2, "val_days": 2, **kwargs}
    with pytest.raises(PlanningError) as info:
        simulate(FRAME, args.pop("pools"), "nightly", **args)
    assert fix in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("name", "value"), [
    ("gamma", -0.1), ("risk", 1.0), ("risk", 0), ("calibration_days", 0), ("lead_bucket", 0), ("lead_bucket", 2.5),
    ("quantile", 1.5), ("floor_quantile", 0.0), ("aim", 0), ("loosen", -1), ("floor", -0.5), ("min_bound", "0"),
    ("gamma", float("nan")), ("calibration_days", True),
])
def test_forecast_method_refuses_a_setting_out_of_range_naming_it(name, value):
    with pytest.raises(PlanningError, match=rf"ForecastMethod: {name}=.* is not valid; give .*e\.g\. "):
        ForecastMethod(**{name: value})


def test_the_defaults_and_the_documented_variants_are_accepted():
    ForecastMethod()
    ForecastMethod(aim=1.0, loosen=None, floor=None, min_bound=None, gamma=0, lead_bucket=24, quantile=0.95)


def test_negative_demand_is_warned_once_per_series_not_by_every_fit_of_the_walk(caplog):
    frame = FRAME.assign(y=FRAME["y"] - 30)  # negative at the bottom of every day
    with caplog.at_level(logging.WARNING, logger="capforecast"):
        simulate(frame, [POOL], "nightly", test_days=2, val_days=2, method=FAST, baselines=("static",))
    said = [r.getMessage() for r in caplog.records if "negative" in r.getMessage()]
    assert 1 <= len(said) <= 2 and all("a (" in s for s in said), said  # the frame's y, the forecasts' yhat


def test_pools_and_baselines_may_be_generators_read_once():
    _, listed = simulate(FRAME, [POOL], "nightly", test_days=2, val_days=2, method=FAST, baselines=("static",))
    _, lazy = simulate(FRAME, (p for p in [POOL]), "nightly", test_days=2, val_days=2, method=FAST,
                       baselines=(b for b in ["static"]))
    pd.testing.assert_frame_equal(listed, lazy)
    assert lazy["method"].tolist() == ["capforecast", "static", "oracle"]
