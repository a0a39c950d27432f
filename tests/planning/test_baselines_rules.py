"""The reference planners in ``simulate`` follow the pool's rules (min_window, cooldown, headroom, budget), as
capforecast's plan does; with none of them they are exactly the protocol's baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capforecast.planning import PoolSpec
from capforecast.planning.pools import Budget, PoolSet
from capforecast.planning.simulate import ForecastMethod, simulate, simulate_baselines

FAST = ForecastMethod(model="seasonal_quantile", model_params=(("season", "daily"),))
BASELINES = ("static", "reactive", "seasonal_naive_max")


def _frame(uid: str = "a", seed: int = 7, days: int = 16) -> pd.DataFrame:
    """Hourly demand that changes nearly every hour: a daily cycle plus noise of a few nodes."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2026-03-02", periods=24 * days, freq="h", tz="UTC")
    t = np.arange(len(ds))
    y = np.maximum(100 + 60 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 12, len(ds)), 0)
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.round(y)})


def _pool(name: str = "a", **kw) -> PoolSpec:
    base = dict(gpus_per_node=8, min_nodes=0, max_nodes=100, lead_time="0s", scale_in_cooldown="0s",
                min_window="0s", target_busy=0.05)
    return PoolSpec(name=name, **{**base, **kw})


def _nodes(plans: pd.DataFrame, method: str, uid: str = "a") -> pd.Series:
    p = plans[(plans["method"] == method) & (plans["unique_id"] == uid)]
    return pd.Series(p["nodes"].to_numpy(), index=pd.DatetimeIndex(p["ds"]))


def test_without_rules_the_baselines_are_the_protocols():
    frame = _frame()
    plans, scores = simulate(frame, [_pool()], "hourly", test_days=2, baselines=BASELINES, method=FAST)
    ref_plans, ref_scores = simulate_baselines(frame, "hourly", target_busy=0.05, test_days=2, planners=BASELINES)
    for m in (*BASELINES, "oracle"):
        pd.testing.assert_series_equal(_nodes(plans, m), _nodes(ref_plans, m), check_dtype=False)
    ours = scores[scores["method"] != "capforecast"].set_index("method")[["busy", "cost_ratio", "knob", "met"]]
    pd.testing.assert_frame_equal(ours, ref_scores.set_index("method")[["busy", "cost_ratio", "knob", "met"]])


def test_under_a_min_window_every_baseline_changes_only_at_window_boundaries_and_never_plans_less():
    frame = _frame()
    for mode in ("nightly", "hourly"):
        free, free_scores = simulate(frame, [_pool()], mode, test_days=2, baselines=BASELINES, method=FAST)
        held, held_scores = simulate(frame, [_pool(min_window="4h")], mode, test_days=2, baselines=BASELINES,
                                     method=FAST)
        f, h = free_scores.set_index("method"), held_scores.set_index("method")
        for m in BASELINES:
            raw, kept = _nodes(free, m), _nodes(held, m)
            assert (kept >= raw).all(), (mode, m)
            changes = kept.index[1:][np.diff(kept.to_numpy()) != 0]
            if mode == "nightly":  # the whole day is known: nodes change at 00, 04, 08, ... only
                assert (changes.hour % 4 == 0).all(), (m, list(changes))
            else:  # one hour at a time: it may step up inside a window, never down
                down = kept.index[1:][np.diff(kept.to_numpy()) < 0]
                assert (down.hour % 4 == 0).all(), (m, list(down))
            assert h.loc[m, "busy"] <= f.loc[m, "busy"]
            assert h.loc[m, "cost_ratio"] >= f.loc[m, "cost_ratio"]
            assert h.loc[m, "knob"] == f.loc[m, "knob"]  # the knob is chosen on the validation window as before
            assert h.loc[m, "met"] == (h.loc[m, "busy"] <= 0.05)
        assert h.loc["seasonal_naive_max", "windows_per_day"] < f.loc["seasonal_naive_max", "windows_per_day"]
        pd.testing.assert_series_equal(_nodes(held, "oracle"), _nodes(free, "oracle"))  # the oracle stays exact


def test_the_cooldown_holds_a_baseline_as_it_holds_capforecast():
    frame = _frame()
    free, _ = simulate(frame, [_pool()], "hourly", test_days=2, baselines=("reactive",), method=FAST)
    held, _ = simulate(frame, [_pool(scale_in_cooldown="3h")], "hourly", test_days=2, baselines=("reactive",),
                       method=FAST)
    need = _nodes(free, "reactive").to_numpy()
    # the first steps also count the need of the hours before the test window, which the free plan does not show
    expect = pd.Series(need).rolling(4, min_periods=1).max().to_numpy()
    np.testing.assert_array_equal(_nodes(held, "reactive").to_numpy()[3:], expect[3:])


def test_a_shared_budget_cuts_the_baselines_too():
    frame = pd.concat([_frame("infer", seed=2), _frame("train", seed=1)], ignore_index=True)
    pools = PoolSet([_pool("train", priority=0), _pool("infer", priority=10)], budget=Budget(gpus=200))
    plans, _ = simulate(frame, pools, "nightly", test_days=2, baselines=("seasonal_naive_max",), method=FAST)
    snm = plans[plans["method"] == "seasonal_naive_max"].pivot(index="ds", columns="unique_id", values="nodes")
    assert ((snm["train"] + snm["infer"]) * 8 <= 200).all()
    free, _ = simulate(frame, [_pool("train"), _pool("infer")], "nightly", test_days=2,
                       baselines=("seasonal_naive_max",), method=FAST)
    uncut = free[free["method"] == "seasonal_naive_max"].pivot(index="ds", columns="unique_id", values="nodes")
    assert ((uncut["train"] + uncut["infer"]) * 8 > 200).any()  # the budget really binds
