"""The planner's rules, each seen in the plan a user gets: quantile + headroom, bounds, cooldown, lead time,
budget tiers, fallback; and its contract (columns, types, determinism, monotone in demand)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capforecast.errors import PlanningError
from capforecast.planning import PLAN_COLUMNS, PoolSpec, parse_pools, plan_capacity

T0 = pd.Timestamp("2026-05-01", tz="UTC")


def forecast(values, uid="a", p50=None, start=T0, freq="h", col="p95"):
    v = np.asarray(values, float)
    ds = pd.date_range(start, periods=len(v), freq=freq, tz="UTC")
    mid = v * 0.7 if p50 is None else np.asarray(p50, float)
    return pd.DataFrame({"unique_id": uid, "ds": ds, "model": "m", "yhat": mid, "p50": mid, col: v})


def spec(name="a", **kw):
    base = dict(name=name, gpus_per_node=8, min_nodes=0, max_nodes=10, lead_time="10m", scale_in_cooldown="0s",
                min_window="0s")  # each test looks at one rule; min_window has tests/planning/test_smoothing.py
    return PoolSpec(**{**base, **kw})


def test_plan_frame_contract_and_service_quantile():
    plan = plan_capacity(forecast([8, 9, 17, 0.5]), [spec()])
    assert list(plan.columns[:5]) == list(PLAN_COLUMNS)
    assert plan["nodes"].tolist() == [1, 2, 3, 1]  # ceil(p95 / 8 GPUs per node)
    assert plan["gpus"].tolist() == [8, 16, 24, 8]
    assert plan["nodes"].dtype == np.int64 and plan["gpus"].dtype == np.int64
    assert plan["ds"].dt.tz is not None
    assert plan["reason"].str.contains("p95").all()


def test_headroom_and_explicit_quantile():
    fc = forecast([15, 15])
    fc["p99"] = 30.0
    assert plan_capacity(fc, [spec(headroom=0.1)])["nodes"].tolist() == [3, 3]  # 16.5 GPUs -> 3 nodes
    assert plan_capacity(fc, [spec(quantile=0.99)])["nodes"].tolist() == [4, 4]


def test_missing_quantile_column_says_which_to_request():
    with pytest.raises(PlanningError) as err:
        plan_capacity(forecast([1, 2]), [spec(target_busy=0.01)])
    msg = str(err.value)
    assert "'p99'" in msg and "p50, p95" in msg and "--quantiles 0.5,0.95,0.99" in msg


def test_bounds_hold_and_capping_is_never_silent():
    plan = plan_capacity(forecast([0, 40, 200]), [spec(min_nodes=2, max_nodes=10)])
    assert plan["nodes"].tolist() == [2, 5, 10]
    assert plan["capped"].tolist() == [False, False, True]
    assert plan["wanted_nodes"].iloc[2] == 25
    assert plan["rule"].tolist() == ["min", "forecast", "max"]
    assert "CAPPED at max_nodes 10" in plan["reason"].iloc[2] and "25 nodes" in plan["reason"].iloc[2]


def test_scale_up_at_once_scale_in_after_cooldown():
    demand = [8, 8, 80, 8, 8, 8, 8, 8]
    plan = plan_capacity(forecast(demand), [spec(scale_in_cooldown="2h")])
    assert plan["nodes"].tolist() == [1, 1, 10, 10, 10, 1, 1, 1]
    assert plan.loc[3:4, "rule"].eq("cooldown").all()
    assert "cooldown 2h" in plan["reason"].iloc[3]


def test_cooldown_stops_flapping():
    flappy = [8, 40] * 6
    no_cd = plan_capacity(forecast(flappy), [spec()])
    with_cd = plan_capacity(forecast(flappy), [spec(scale_in_cooldown="1h")])
    changes = lambda p: int((p["nodes"].diff().fillna(0) != 0).sum())  # noqa: E731
    assert changes(no_cd) == 11
    assert changes(with_cd) == 1 and with_cd["nodes"].iloc[1:].eq(5).all()


def test_current_nodes_start_the_cooldown():
    plan = plan_capacity(forecast([8] * 4), [spec(scale_in_cooldown="1h")], state={"a": 6})
    assert plan["nodes"].tolist() == [6, 6, 1, 1]


def test_lead_time_nodes_cannot_arrive_before_now_plus_lead():
    fc = forecast([40, 40, 40], freq="5min")
    plan = plan_capacity(fc, [spec(lead_time="10m")], state={"a": 2}, now=T0)
    assert plan["nodes"].tolist() == [2, 2, 5]  # 00:00 and 00:05 start before 00:10
    assert plan["shortfall_nodes"].tolist() == [3, 3, 0]
    assert plan["rule"].iloc[0] == "lead_time" and "arrive at 00:10" in plan["reason"].iloc[0]
    # without knowing the current nodes nothing limits the first steps
    assert plan_capacity(fc, [spec(lead_time="10m")], now=T0)["nodes"].tolist() == [5, 5, 5]


def test_now_drops_past_steps():
    plan = plan_capacity(forecast([8, 16, 24]), [spec()], now=T0 + pd.Timedelta(hours=1))
    assert plan["ds"].min() == T0 + pd.Timedelta(hours=1) and len(plan) == 2


def test_budget_cuts_lowest_tier_first_and_never_below_min():
    pools = parse_pools({
        "budget": {"gpus": 80},
        "pools": [
            {"name": "gold", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 10, "lead_time": "5m",
             "priority": 100, "min_window": "0s"},
            {"name": "bronze", "gpus_per_node": 8, "min_nodes": 2, "max_nodes": 10, "lead_time": "5m",
             "priority": 1, "min_window": "0s"},
        ],
    })
    fc = pd.concat([forecast([40, 64, 80], uid="gold"), forecast([40, 40, 40], uid="bronze")])
    plan = plan_capacity(fc, pools)
    wide = plan.pivot(index="ds", columns="unique_id", values="gpus")
    assert (wide.sum(axis=1) <= 80).all()
    assert wide["gold"].tolist() == [40, 64, 64]  # gold is only cut once bronze is at its minimum
    assert wide["bronze"].tolist() == [40, 16, 16]
    cut = plan[plan["unique_id"] == "bronze"]
    assert cut["cut_nodes"].tolist() == [0, 3, 3] and cut["rule"].iloc[1] == "budget"
    assert "budget 80 GPUs: cut 3 node(s)" in cut["reason"].iloc[1]
    gold = plan[plan["unique_id"] == "gold"]
    assert gold["cut_nodes"].tolist() == [0, 0, 2]


def test_pool_without_forecast_falls_back(caplog):
    hist = pd.DataFrame({"unique_id": "b", "ds": pd.date_range(T0 - pd.Timedelta(days=3), T0, freq="h",
                                                              inclusive="left", tz="UTC"), "y": 20.0})
    pools = [spec("a"), spec("b", max_nodes=9), spec("c", max_nodes=7)]
    with caplog.at_level(logging.WARNING, logger="capforecast.planning.planner"):
        plan = plan_capacity(forecast([8, 8]), pools, history=hist)
    b, c = plan[plan["unique_id"] == "b"], plan[plan["unique_id"] == "c"]
    assert b["nodes"].tolist() == [3, 3] and b["reason"].str.contains("static p95 of recent history").all()
    assert c["nodes"].tolist() == [7, 7] and c["rule"].eq("fallback").all()
    assert "holding max_nodes" in caplog.text
    assert plan["unique_id"].drop_duplicates().tolist() == ["a", "b", "c"]  # pools-file order


def test_bad_inputs():
    with pytest.raises(PlanningError, match="no pools"):
        plan_capacity(forecast([1]), [])
    with pytest.raises(PlanningError, match="not in the pools file"):
        plan_capacity(forecast([1]), [spec()], state={"zz": 1})
    with pytest.raises(PlanningError, match="current node count"):
        plan_capacity(forecast([1]), [spec()], state={"a": -2})
    with pytest.raises(PlanningError, match="before now"):
        plan_capacity(forecast([1]), [spec()], now=T0 + pd.Timedelta(days=1))


def test_plan_follows_the_daily_cycle():
    t = np.arange(48)
    demand = 60 + 40 * np.sin(2 * np.pi * t / 24)
    plan = plan_capacity(forecast(demand), [spec(max_nodes=20, scale_in_cooldown="1h")])
    assert plan["nodes"].nunique() > 5 and plan["nodes"].max() == 13 and plan["nodes"].min() <= 3


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.lists(st.floats(0, 120, allow_nan=False), min_size=1, max_size=12),
    st.floats(0, 50), st.integers(0, 3), st.integers(0, 4), st.sampled_from(["0s", "1h", "3h"]),
)
def test_more_demand_never_fewer_nodes_and_bounds_hold(values, extra, lo, state, cooldown):
    pool = spec(min_nodes=lo, max_nodes=lo + 8, scale_in_cooldown=cooldown, lead_time="90m")
    base = plan_capacity(forecast(values), [pool], state={"a": state}, now=T0)
    more = plan_capacity(forecast(np.asarray(values) + extra), [pool], state={"a": state}, now=T0)
    again = plan_capacity(forecast(values), [pool], state={"a": state}, now=T0)
    assert (more["nodes"].to_numpy() >= base["nodes"].to_numpy()).all()
    assert base["nodes"].between(lo, lo + 8).all()
    pd.testing.assert_frame_equal(base, again)


def test_choose_the_model_to_plan_from(caplog):
    fc = pd.concat([forecast([8, 8]), forecast([40, 40]).assign(model="big")])
    assert plan_capacity(fc, [spec()], model="big")["nodes"].tolist() == [5, 5]
    with caplog.at_level(logging.WARNING, logger="capforecast.planning.planner"):
        assert plan_capacity(fc, [spec()])["nodes"].tolist() == [1, 1]
    assert "planning from 'm'" in caplog.text
    with pytest.raises(PlanningError, match="no model 'x'; it has m, big"):
        plan_capacity(fc, [spec()], model="x")


def test_budget_needs_one_time_grid():
    pools = parse_pools({"budget": 64, "pools": [
        {"name": "a", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 10, "lead_time": "5m"},
        {"name": "b", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 10, "lead_time": "5m"}]})
    fc = pd.concat([forecast([8, 8, 8], uid="a"), forecast([8, 8], uid="b", start=T0 + pd.Timedelta(minutes=30))])
    with pytest.raises(PlanningError, match="same time steps"):
        plan_capacity(fc, pools)
