"""Plan scores as BENCHMARKS.md section 2 defines them, checked on plans small enough to score by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from capforecast.errors import FrameError, PlanningError
from capforecast.planning.scoring import SCORE_COLUMNS, oracle_nodes, score_nodes, score_plan


def test_scores_match_a_hand_computed_plan():
    demand = np.array([4.0, 12.0, 20.0, 7.0])
    nodes = np.array([1, 2, 2, 1])  # capacity 8, 16, 16, 8 GPUs
    s = score_nodes(demand, nodes, gpus_per_node=8, price_per_node_hour=2.5)
    assert s["busy"] == pytest.approx(1 / 4)  # only 20 > 16
    assert s["unmet_share"] == pytest.approx(4 / 43)
    assert s["idle_gpu_hours"] == pytest.approx(4 + 4 + 0 + 1)
    assert s["cost"] == pytest.approx(6 * 2.5)
    assert s["cost_ratio"] == pytest.approx(48 / (8 * (1 + 2 + 3 + 1)))
    assert s["scale_events"] == 2


def test_the_oracle_is_never_busy_and_costs_exactly_one():
    rng = np.random.default_rng(3)
    demand = rng.uniform(0, 100, 500)
    s = score_nodes(demand, oracle_nodes(demand, 8), gpus_per_node=8)
    assert s["busy"] == 0.0 and s["unmet_share"] == 0.0 and s["cost_ratio"] == 1.0


def test_demand_equal_to_capacity_is_not_busy():
    assert score_nodes(np.array([16.0, 8.0]), np.array([2, 1]), gpus_per_node=8)["busy"] == 0.0
    assert oracle_nodes(np.array([16.0, 16.000001]), 8).tolist() == [2.0, 3.0]


def test_missing_demand_is_left_out_of_every_sum_but_scale_events():
    demand = np.array([10.0, np.nan, 30.0])
    s = score_nodes(demand, np.array([2, 5, 3]), gpus_per_node=8)
    assert s["busy"] == pytest.approx(1 / 2)  # 30 > 24 counts, the missing step does not
    assert s["cost"] == pytest.approx(5.0)
    assert s["scale_events"] == 2


def test_step_length_scales_hours():
    s = score_nodes(np.array([1.0, 1.0]), np.array([1, 1]), gpus_per_node=8, step=pd.Timedelta("30min"))
    assert s["cost"] == pytest.approx(1.0) and s["idle_gpu_hours"] == pytest.approx(7.0)


def test_bad_inputs_name_the_problem():
    with pytest.raises(PlanningError, match="same length"):
        score_nodes(np.ones(3), np.ones(2), gpus_per_node=8)
    with pytest.raises(PlanningError, match="missing node counts"):
        score_nodes(np.ones(2), np.array([1, np.nan]), gpus_per_node=8)
    with pytest.raises(PlanningError, match="gpus_per_node"):
        oracle_nodes(np.ones(2), 0)


def test_score_plan_scores_each_pool_with_its_own_node_size():
    ds = pd.date_range("2026-05-01", periods=3, freq="h", tz="UTC")
    plan = pd.DataFrame({"unique_id": ["a"] * 3 + ["b"] * 3, "ds": list(ds) * 2, "nodes": [1, 1, 1, 1, 1, 2]})
    act = pd.DataFrame({"unique_id": ["a"] * 3 + ["b"] * 3, "ds": list(ds) * 2,
                        "y": [8.0, 9.0, 8.0, 4.0, 4.0, 4.0]})
    out = score_plan(plan, act, {"a": 8, "b": 4}).set_index("unique_id")
    assert list(out.columns) == list(SCORE_COLUMNS)
    assert out.loc["a", "busy"] == pytest.approx(1 / 3)
    assert out.loc["b", "busy"] == 0.0 and out.loc["b", "cost_ratio"] == pytest.approx(16 / 12)
    with pytest.raises(FrameError, match="nodes"):
        score_plan(plan.drop(columns="nodes"), act, 8)


def test_zero_demand_pool_has_a_defined_cost_ratio():
    assert score_nodes(np.zeros(3), np.zeros(3), gpus_per_node=8)["cost_ratio"] == 1.0
    assert math.isinf(score_nodes(np.zeros(3), np.ones(3), gpus_per_node=8)["cost_ratio"])
