"""min_window: fewer, longer windows of held nodes that never lower the plan, in the planner and the simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from capforecast.planning import PoolSpec, plan_capacity
from capforecast.planning._smoothing import count_windows, hold_windows, window_ids
from capforecast.planning.simulate import ForecastMethod, simulate

T0 = pd.Timestamp("2026-05-01", tz="UTC")


def _forecast(values, start=T0) -> pd.DataFrame:
    v = np.asarray(values, float)
    ds = pd.date_range(start, periods=len(v), freq="h", tz="UTC")
    return pd.DataFrame({"unique_id": "a", "ds": ds, "model": "m", "yhat": v * 0.8, "p95": v})


def _pool(min_window: str, **kw) -> PoolSpec:
    base = dict(name="a", gpus_per_node=8, min_nodes=0, max_nodes=40, lead_time="0s", scale_in_cooldown="0s")
    return PoolSpec(**{**base, **kw}, min_window=min_window)


def _hourly_noise(n: int, seed: int = 3) -> np.ndarray:
    """A plan input that changes nearly every hour: a daily cycle plus noise of a few nodes."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.maximum(100 + 60 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 12, n), 0)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=60), st.sampled_from(["2h", "3h", "4h", "6h", "24h"]),
       st.integers(0, 23))
def test_windows_never_lower_the_plan_and_only_change_at_window_boundaries(nodes, window, hour):
    ds = pd.date_range(T0 + pd.Timedelta(hours=hour), periods=len(nodes), freq="h")
    raw = np.array(nodes)
    out = hold_windows(raw, ds, pd.Timedelta(window))
    assert (out >= raw).all() and out.max() == raw.max()
    assert count_windows(out) <= count_windows(raw)
    changes = ds[1:][np.diff(out) != 0]
    assert ((changes - changes.floor("D")) % pd.Timedelta(window) == pd.Timedelta(0)).all()
    assert (hold_windows(raw, ds, pd.Timedelta(window)) == out).all()  # deterministic
    assert (hold_windows(raw, ds, pd.Timedelta("1h")) == raw).all()  # one step or less: the plan as it is


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(-20_000, 40_000), st.sampled_from(["UTC", "Europe/Berlin", "America/Los_Angeles", None]),
       st.sampled_from(["s", "ms", "ns"]), st.sampled_from(["30min", "4h", "24h"]))
def test_window_ids_are_the_utc_clock_windows_whatever_the_zone_and_unit(hour, tz, unit, window):
    utc = pd.date_range(T0 + pd.Timedelta(hours=hour, minutes=7), periods=30, freq="53min")
    ds = (utc.tz_convert(None) if tz is None else utc.tz_convert(tz)).as_unit(unit)
    ids = window_ids(ds, pd.Timedelta(window))
    start = utc.floor("D") + ((utc - utc.floor("D")) // pd.Timedelta(window)) * pd.Timedelta(window)
    assert ((ids[1:] == ids[:-1]) == (start[1:] == start[:-1])).all()  # same id exactly when same clock window
    assert (np.diff(ids) >= 0).all()


def test_plan_keeps_its_busy_target_with_a_handful_of_windows_a_day():
    values = _hourly_noise(48)
    raw = plan_capacity(_forecast(values), [_pool("0s")])
    held = plan_capacity(_forecast(values), [_pool("4h")])
    assert (held["nodes"].to_numpy() >= raw["nodes"].to_numpy()).all()
    assert count_windows(raw["nodes"]) >= 30 and count_windows(held["nodes"]) <= 12  # 2 days: <= 6 a day
    raised = held["nodes"] > raw["nodes"]
    assert (held.loc[raised, "rule"] == "min_window").all() and raised.any()
    assert held.loc[raised, "reason"].str.startswith("min_window 4h: holding").all()
    pd.testing.assert_frame_equal(held, plan_capacity(_forecast(values), [_pool("4h")]))


def test_plans_made_hour_by_hour_never_step_down_inside_a_window():
    values, pool = _hourly_noise(24), _pool("4h")
    held: dict[str, pd.Series] = {}
    walked = []
    for h in range(24):  # one plan per hour, each for its own step, as the simulator's hourly mode
        part = plan_capacity(_forecast(values[h:h + 1], start=T0 + pd.Timedelta(hours=h)), [pool], held=held)
        walked.append(int(part["nodes"].iloc[0]))
        s = pd.Series(part["nodes"].to_numpy(), index=pd.DatetimeIndex(part["ds"]))
        held["a"] = pd.concat([held["a"], s]) if "a" in held else s
    raw = plan_capacity(_forecast(values), [_pool("0s")])["nodes"].to_numpy()
    walked = np.array(walked)
    assert (walked >= raw).all()
    for block in walked.reshape(6, 4):  # 00-04, 04-08, ...: never lower than an earlier hour of its window
        assert (np.diff(block) >= 0).all()
    assert count_windows(walked) < count_windows(raw)


DAILY_QUANTILE = ForecastMethod(model="seasonal_quantile", model_params=(("season", "daily"),))


def test_simulated_busy_never_worse_and_fewer_windows_per_day():
    ds = pd.date_range("2026-03-02", periods=24 * 16, freq="h", tz="UTC")
    frame = pd.DataFrame({"unique_id": "a", "ds": ds, "y": _hourly_noise(len(ds), seed=7)})
    scores = {}
    for window in ("0s", "4h"):
        _, s = simulate(frame, [_pool(window, max_nodes=100, target_busy=0.05)], "nightly", test_days=2,
                        val_days=7, baselines=("static",), method=DAILY_QUANTILE)
        scores[window] = s.set_index("method").loc["capforecast"]
    assert scores["4h"]["busy"] <= scores["0s"]["busy"]
    assert scores["4h"]["windows_per_day"] <= 6 < scores["0s"]["windows_per_day"]
    assert scores["4h"]["scale_events"] < scores["0s"]["scale_events"]
    assert scores["4h"]["cost_ratio"] >= scores["0s"]["cost_ratio"]  # raising only costs, it never saves
