"""A notebook user's wrong arguments to cf.plan_capacity, cf.Budget and cf.plot_forecast: one capforecast error
naming the fix (before: AttributeError, TypeError, KeyError or pydantic's multi-line ValidationError)."""

from __future__ import annotations

import pandas as pd
import pytest

import capforecast as cf
from capforecast.errors import CapforecastError

FRAME = cf.make_sample(days=10, pools=["a100-train"])
POOLS = [cf.PoolSpec(name="a100-train", gpus_per_node=8, min_nodes=0, max_nodes=40, lead_time="10m")]
FC = cf.get_model("seasonal_naive").fit(FRAME).predict(6, quantiles=[0.95])


def one_line_error(call, fix: str) -> None:
    with pytest.raises(CapforecastError) as info:
        call()
    text = str(info.value)
    assert fix in text and "\n" not in text, text


@pytest.mark.parametrize(("kwargs", "fix"), [
    ({"budget": 64}, "Budget(gpus=64)"),
    ({"recent": {"a100-train": [4, 4]}}, "recent must map pool names to pandas Series"),
    ({"held": [4]}, "held must map pool names to pandas Series"),
])
def test_plan_capacity_names_the_argument_and_its_form(kwargs, fix):
    one_line_error(lambda: cf.plan_capacity(FC, POOLS, **kwargs), fix)


def test_plan_capacity_still_takes_the_documented_forms():
    ds = pd.DatetimeIndex(FC["ds"])
    plan = cf.plan_capacity(FC, POOLS, budget=cf.Budget(gpus=400), recent={"a100-train": pd.Series([3.0], [ds[0]])},
                            held={"a100-train": pd.Series([3], [ds[0] - pd.Timedelta("1h")])})
    assert len(plan) == len(FC)
    pd.testing.assert_frame_equal(cf.plan_capacity(FC, (p for p in POOLS)), cf.plan_capacity(FC, POOLS))
    one_line_error(lambda: cf.plan_capacity(FC, "pools.yaml"), "read a pools file with load_pools(path)")


@pytest.mark.parametrize(("kwargs", "fix"), [
    ({"gpus": -1}, "Budget, key 'gpus': must be at least 0"),
    ({}, "Budget: missing key(s) gpus; e.g. Budget(gpus=64)"),
    ({"gpus": 8, "pool": ["a"]}, "Budget, key 'pool': unknown key"),
    ({"gpus": "many"}, "Budget, key 'gpus': expected a whole number"),
])
def test_budget_from_python_is_one_config_error_like_a_pools_file(kwargs, fix):
    one_line_error(lambda: cf.Budget(**kwargs), fix)


@pytest.mark.parametrize("forecasts", [FRAME, "forecast.csv"])
def test_plot_forecast_of_something_else_than_a_forecast_says_what_to_pass(forecasts, tmp_path):
    one_line_error(lambda: cf.plot_forecast(forecasts, tmp_path / "f.png"), "pass the series frame as history=")
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize(("call", "fix"), [
    (lambda: cf.find_gaps("series.csv"), "series frame: expected a pandas DataFrame, got str"),
    (lambda: cf.infer_step(FRAME[["ds", "y"]]), "missing column(s) ['unique_id']"),
    (lambda: cf.make_sample(days=3, pools="a100-train"), "e.g. pools=['a100-train']"),
])
def test_frame_helpers_and_the_sample_name_a_wrong_argument(call, fix):
    one_line_error(call, fix)
