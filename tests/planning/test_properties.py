"""Properties of capacity plans (hypothesis): monotone in demand, within bounds, deterministic, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capforecast.planning import PoolSpec, plan_capacity
from capforecast.planning.simulate import decision_schedule, simulate, split_windows

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])

demands = st.lists(st.floats(0, 500, allow_nan=False), min_size=1, max_size=30)


@st.composite
def pools(draw) -> PoolSpec:
    gpn = draw(st.sampled_from([1, 4, 8]))
    lo = draw(st.integers(0, 5))
    hi = draw(st.integers(lo, 80))
    return PoolSpec(name="p", gpus_per_node=gpn, min_nodes=lo, max_nodes=max(hi, 1), lead_time="10m",
                    scale_in_cooldown=draw(st.sampled_from(["0s", "1h", "3h"])),
                    headroom=draw(st.sampled_from([0.0, 0.1, 0.5])), target_busy=0.05,
                    min_window=draw(st.sampled_from(["0s", "3h", "4h"])))


def forecast(values) -> pd.DataFrame:
    v = np.asarray(values, float)
    ds = pd.date_range("2026-05-01", periods=len(v), freq="h", tz="UTC")
    return pd.DataFrame({"unique_id": "p", "ds": ds, "model": "m", "yhat": v, "p95": v})


@FAST
@given(pools(), demands, st.data())
def test_more_forecast_demand_never_gives_fewer_nodes(pool, values, data):
    extra = data.draw(st.lists(st.floats(0, 200), min_size=len(values), max_size=len(values)))
    low = plan_capacity(forecast(values), [pool])["nodes"].to_numpy()
    high = plan_capacity(forecast(np.add(values, extra)), [pool])["nodes"].to_numpy()
    assert (high >= low).all()


@FAST
@given(pools(), demands)
def test_bounds_always_hold_and_overflow_is_flagged(pool, values):
    plan = plan_capacity(forecast(values), [pool])
    assert plan["nodes"].between(pool.min_nodes, pool.max_nodes).all()
    need = np.ceil(np.asarray(values) * (1 + pool.headroom) / pool.gpus_per_node - 1e-9)
    assert (plan["capped"].to_numpy() == (need > pool.max_nodes)).all()


@FAST
@given(pools(), demands)
def test_plans_are_deterministic(pool, values):
    pd.testing.assert_frame_equal(plan_capacity(forecast(values), [pool]), plan_capacity(forecast(values), [pool]))


def small_frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2026-03-02", periods=24 * 12, freq="h", tz="UTC")
    y = 60 + 30 * np.sin(2 * np.pi * np.arange(len(ds)) / 24) + rng.normal(0, 5, len(ds))
    return pd.DataFrame({"unique_id": "p", "ds": ds, "y": np.maximum(y, 0)})


@SLOW
@given(st.integers(0, 10_000), st.sampled_from(["nightly", "hourly"]), st.integers(0, 47), st.floats(0.0, 3.0))
def test_a_plan_never_depends_on_demand_observed_after_its_decision(seed, mode, at, scale):
    frame = small_frame(seed)
    pool = PoolSpec(name="p", gpus_per_node=8, min_nodes=0, max_nodes=500, lead_time="0s",
                    scale_in_cooldown="0s", target_busy=0.05)
    ds = pd.DatetimeIndex(frame["ds"])
    _, test_start, stop = split_windows(len(ds), ds[1] - ds[0], 2, 3)
    cut = test_start + at  # demand from this step on is rewritten
    changed = frame.copy()
    changed.loc[cut:, "y"] = changed.loc[cut:, "y"] * scale + 500  # big enough to move any quantile
    before, _ = simulate(frame, [pool], mode, test_days=2, val_days=3, baselines=("static", "reactive"))
    after, _ = simulate(changed, [pool], mode, test_days=2, val_days=3, baselines=("static", "reactive"))
    decided = [d for d in decision_schedule(ds, test_start, stop, mode) if d.observed <= cut]
    steps = ds[np.concatenate([d.targets for d in decided])] if decided else ds[:0]
    for method in ("capforecast", "static", "reactive"):
        b = before[(before["method"] == method) & before["ds"].isin(steps)]["nodes"].to_numpy()
        a = after[(after["method"] == method) & after["ds"].isin(steps)]["nodes"].to_numpy()
        assert (a == b).all(), method
