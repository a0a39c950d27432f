"""The walk-forward simulator: decision timing exactly as BENCHMARKS.md, baselines reproduced, the CLI."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from capforecast.cli import main
from capforecast.errors import PlanningError
from capforecast.planning import PoolSpec
from capforecast.planning._forecast_method import REFERENCE_MODEL, REFERENCE_PARAMS
from capforecast.planning.simulate import (
    ForecastMethod,
    decision_schedule,
    simulate,
    simulate_baselines,
    split_windows,
)

needs_helios = pytest.mark.needs_data("helios-earth")


#: For tests of the planner's rules rather than of its forecaster: the default (auto) refits every decision.
FAST = ForecastMethod(model=REFERENCE_MODEL, model_params=REFERENCE_PARAMS)


def pool(name: str, target: float = 0.05, **kw) -> PoolSpec:
    kw = {"gpus_per_node": 8, "min_nodes": 0, "max_nodes": 10_000, "lead_time": "0s",
          "scale_in_cooldown": "0s", "min_window": "0s", **kw}  # the protocol's: no rule of the pool's own
    return PoolSpec(name=name, target_busy=target, **kw)


def demand_frame(days: int = 24, seed: int = 0, uid: str = "a100") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2026-03-02", periods=24 * days, freq="h", tz="UTC")
    t = np.arange(len(ds))
    y = 120 + 60 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 6, len(ds))
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.maximum(y, 0)})


def test_nightly_commits_whole_days_at_midnight_with_only_observed_steps():
    ds = pd.date_range("2020-05-01", periods=24 * 4, freq="h", tz="UTC")
    decisions = decision_schedule(ds, 30, 96, "nightly")  # the window starts at 06:00 on day 2
    assert [str(d.time) for d in decisions] == [f"2020-05-0{k} 00:00:00+00:00" for k in (2, 3, 4)]
    first = decisions[0]
    assert first.targets.tolist() == list(range(30, 48))  # the partial day is planned the midnight before it
    assert first.observed == 24  # steps labelled up to 23:00 are complete at 00:00
    assert all(ds[d.observed - 1] + pd.Timedelta("1h") <= d.time for d in decisions)


def test_hourly_commits_the_hour_after_next_with_the_value_labelled_t_minus_1h():
    ds = pd.date_range("2020-05-01", periods=48, freq="h", tz="UTC")
    decisions = decision_schedule(ds, 40, 48, "hourly")
    assert len(decisions) == 8
    d = decisions[0]
    assert d.time == ds[40] - pd.Timedelta("1h") and d.targets.tolist() == [40]
    assert ds[d.observed - 1] == d.time - pd.Timedelta("1h")


def test_sub_hourly_steps_commit_an_hour_at_a_time():
    ds = pd.date_range("2020-05-01", periods=24 * 12, freq="5min", tz="UTC")
    decisions = decision_schedule(ds, 12 * 20, 12 * 24, "hourly")
    assert [len(d.targets) for d in decisions] == [12] * 4
    assert all(ds[d.observed - 1] + pd.Timedelta("5min") <= d.time for d in decisions)


def test_windows_and_modes_are_checked_with_a_fix():
    assert split_windows(744, pd.Timedelta("1h"), 7, 7) == (408, 576, 744)
    with pytest.raises(PlanningError, match="too short.*use val_days=1.2 or less"):  # from Python: its keywords
        split_windows(200, pd.Timedelta("1h"), 7, 7)
    ds = pd.date_range("2020-05-01", periods=48, freq="h", tz="UTC")
    with pytest.raises(PlanningError, match="nightly, hourly"):
        decision_schedule(ds, 24, 48, "weekly")


def test_capforecast_meets_its_target_cheaper_than_static_on_a_daily_cycle():
    frame = demand_frame()
    plans, scores = simulate(frame, [pool("a100", 0.05)], "nightly", test_days=4, val_days=7)
    s = scores.set_index("method")
    assert list(s.index) == ["capforecast", "static", "reactive", "seasonal_naive_max", "oracle"]
    assert s.loc["capforecast", "met"] and s.loc["capforecast", "busy"] <= 0.05
    assert s.loc["capforecast", "cost_ratio"] < s.loc["static", "cost_ratio"]
    assert s.loc["oracle", "cost_ratio"] == 1.0 and s.loc["oracle", "busy"] == 0.0
    ours = plans[plans["method"] == "capforecast"]
    assert len(ours) == 4 * 24 and ours["ds"].min() == frame["ds"].max() - pd.Timedelta("95h")


def test_pool_bounds_and_names_are_honoured():
    frame = demand_frame()
    plans, _ = simulate(frame, [pool("a100", 0.05, min_nodes=20, max_nodes=22)], "hourly", test_days=2, method=FAST)
    assert plans["nodes"][plans["method"] == "capforecast"].between(20, 22).all()
    with pytest.raises(PlanningError, match="name each pool after the unique_id"):
        simulate(frame, [pool("h100")], "nightly", test_days=2)


@needs_helios
def test_baseline_rows_of_the_benchmarks_table_are_reproduced():
    from capforecast.datasets import load_helios

    earth = load_helios(vcs=None)
    earth = earth[earth["unique_id"] == "earth"]
    ref = {  # (mode, target, method): (cost_ratio, busy %, met) from ../shared/BENCHMARKS.md
        ("nightly", 0.05, "static"): (1.20, 2.4, True),
        ("nightly", 0.05, "reactive"): (1.19, 7.7, False),
        ("nightly", 0.01, "reactive"): (1.23, 6.0, False),
        ("nightly", 0.05, "seasonal_naive_max"): (1.27, 0.6, True),
        ("nightly", 0.05, "holt_winters"): (1.18, 30.4, False),
        ("nightly", 0.01, "holt_winters"): (1.28, 16.7, False),
        ("nightly", 0.05, "predict_linear"): (1.32, 7.1, False),
        ("hourly", 0.01, "reactive"): (1.16, 0.0, True),
        ("hourly", 0.01, "seasonal_naive_max"): (1.32, 0.0, True),
        ("hourly", 0.05, "predict_linear"): (1.14, 3.6, True),
    }
    for mode in ("nightly", "hourly"):
        for target in (0.05, 0.01):
            _, scores = simulate_baselines(earth, mode, target_busy=target)
            s = scores.set_index("method")
            for (m, t, method), (cost, busy, met) in ref.items():
                if (m, t) == (mode, target):
                    assert s.loc[method, "cost_ratio"] == pytest.approx(cost, abs=0.015), (mode, target, method)
                    assert 100 * s.loc[method, "busy"] == pytest.approx(busy, abs=0.05), (mode, target, method)
                    assert bool(s.loc[method, "met"]) is met


@needs_helios
def test_capforecast_meets_the_nightly_target_on_helios():
    from capforecast.datasets import load_helios

    earth = load_helios()
    earth = earth[earth["unique_id"] == "earth"]
    sq = ForecastMethod(model=REFERENCE_MODEL, model_params=REFERENCE_PARAMS)
    for target in (0.05, 0.01):  # the benchmark's nightly cells: met, at about seasonal-naive-max's cost
        _, scores = simulate(earth, [pool("earth", target)], "nightly", method=sq)
        s = scores.set_index("method")
        assert s.loc["capforecast", "met"], target
        # 5 %: cheaper than seasonal-naive-max. 1 %: the window aim (49 % of the target) plans for about the
        # largest score of the 14 days: 1.41 against its 1.33 (measured, docs/simulation.md), within 10 %
        factor = 1.0 if target == 0.05 else 1.10
        assert s.loc["capforecast", "cost_ratio"] < s.loc["seasonal_naive_max", "cost_ratio"] * factor
    _, fixed = simulate(earth, [pool("earth", 0.01)], "nightly", method=dataclasses.replace(sq, aim=0.75))
    fixed = fixed.set_index("method").loc["capforecast"]
    assert fixed["met"] and fixed["cost_ratio"] < s.loc["capforecast", "cost_ratio"]  # what the margin costs


def test_cli_writes_plan_and_scores(tmp_path, capsys):
    frame = demand_frame(days=20)
    frame.to_csv(tmp_path / "demand.csv", index=False)
    (tmp_path / "pools.yaml").write_text(
        "pools:\n  - {name: a100, gpus_per_node: 8, min_nodes: 0, max_nodes: 100, lead_time: 0s,\n"
        "     scale_in_cooldown: 0s, target_busy: 0.05}\n  - {name: gone, gpus_per_node: 8, min_nodes: 0,\n"
        "     max_nodes: 4, lead_time: 5m}\n"
    )
    out = tmp_path / "out"
    rc = main(["simulate", "--input", str(tmp_path / "demand.csv"), "--pools", str(tmp_path / "pools.yaml"),
               "--mode", "hourly", "--test-days", "3", "--out", str(out)])
    assert rc == 3  # pool 'gone' has no series: partial
    plan = pd.read_csv(out / "plan.csv")
    assert list(plan.columns) == ["unique_id", "ds", "nodes"] and len(plan) == 72
    scores = pd.read_csv(out / "scores.csv")
    assert {"busy", "unmet_share", "idle_gpu_hours", "cost", "cost_ratio", "scale_events"} <= set(scores.columns)
    assert set(scores["method"]) == {"capforecast", "static", "reactive", "seasonal_naive_max", "oracle"}
    assert "capforecast" in capsys.readouterr().out


def test_cli_errors_are_one_line_with_a_fix(tmp_path, capsys):
    demand_frame(days=5).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "p.yaml").write_text("pools:\n  - {name: a100, gpus_per_node: 8, min_nodes: 0, max_nodes: 9, "
                                     "lead_time: 0s}\n")
    args = ["simulate", "--input", str(tmp_path / "d.csv"), "--pools", str(tmp_path / "p.yaml"), "--out",
            str(tmp_path / "o")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "too short" in err and "lower both --test-days, --val-days" in err  # 5 days of data
    assert main([*args, "--test-days", "2", "--val-days", "100"]) == 1
    err = capsys.readouterr().err
    assert "use --val-days 2.9 or less" in err and "--test-days" not in err and "val_days" not in err
    assert main([*args, "--test-days", "100", "--val-days", "1"]) == 1
    assert "use --test-days 3.9 or less" in capsys.readouterr().err
    assert main([*args, "--baselines", "static,magic"]) == 1
    assert "magic" in capsys.readouterr().err
    assert main([*args, "--model", "prophet"]) == 1
    assert "unknown model 'prophet'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_a_shared_gpu_budget_cuts_the_lower_tier_in_capforecasts_plan():
    from capforecast.planning.pools import Budget, PoolSet

    frame = pd.concat([demand_frame(uid="infer", seed=2), demand_frame(uid="train", seed=1)], ignore_index=True)
    pools = PoolSet([pool("train", priority=0), pool("infer", priority=10)], budget=Budget(gpus=160))
    plans, scores = simulate(frame, pools, "nightly", test_days=2, val_days=7, method=FAST)
    ours = plans[plans["method"] == "capforecast"].pivot(index="ds", columns="unique_id", values="nodes")
    assert ((ours["train"] + ours["infer"]) * 8 <= 160).all()
    s = scores[scores["method"] == "capforecast"].set_index("unique_id")
    assert s.loc["infer", "busy"] <= s.loc["train", "busy"]  # the higher tier keeps its reservations


def test_missing_steps_are_planned_and_left_out_of_the_scores(caplog):
    frame = demand_frame(days=24)
    frame = frame.drop(index=[*range(400, 430), *range(540, 545)]).reset_index(drop=True)  # gaps in both windows
    plans, scores = simulate(frame, [pool("a100", 0.05)], "nightly", test_days=4, method=FAST)
    ours = plans[plans["method"] == "capforecast"]
    assert len(ours) == 96 and ours["nodes"].notna().all()  # every step of the window gets nodes
    assert "missing step" in caplog.text  # the gaps are reported, not invented
    assert scores.set_index("method").loc["capforecast", "met"]


def test_the_cooldown_carries_across_hourly_decisions():
    # hourly mode plans one hour per decision: the scale-in cooldown must still hold nodes for 3 h after a
    # peak, as one continuous plan would (it used to act only within a decision's single hour)
    frame = demand_frame()
    plans, _ = simulate(frame, [pool("a100", 0.05, scale_in_cooldown="3h")], "hourly", test_days=2, method=FAST)
    free, _ = simulate(frame, [pool("a100", 0.05)], "hourly", test_days=2, method=FAST)
    held = plans[plans["method"] == "capforecast"]["nodes"].to_numpy()
    need = free[free["method"] == "capforecast"]["nodes"].to_numpy()  # the same plan without a cooldown
    expect = pd.Series(need).rolling(4, min_periods=1).max().to_numpy()  # max over [t - 3 h, t]
    np.testing.assert_array_equal(held, expect)
    assert (held > need).sum() >= 10  # the daily cycle goes down for hours: the cooldown really acts


def test_plan_capacity_counts_recent_need_from_earlier_plans_in_the_cooldown():
    from capforecast.planning import plan_capacity

    ds = pd.date_range("2026-03-02 10:00", periods=3, freq="h", tz="UTC")
    fc = pd.DataFrame({"unique_id": "a100", "ds": ds, "model": "m", "yhat": 8.0, "p95": 8.0})
    spec = pool("a100", 0.05, scale_in_cooldown="2h")
    earlier = pd.Series([5, 2], index=pd.date_range("2026-03-02 08:00", periods=2, freq="h", tz="UTC"))
    plan = plan_capacity(fc, [spec], recent={"a100": earlier})
    assert plan["nodes"].tolist() == [5, 2, 1]  # 08:00's 5 is held until 10:00, 09:00's 2 until 11:00
    assert plan["rule"].tolist() == ["cooldown", "cooldown", "forecast"]
    assert plan_capacity(fc, [spec])["nodes"].tolist() == [1, 1, 1]
