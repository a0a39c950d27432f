"""Adaptive, per-lead calibration: the level moves after misses, leads get their own spread, drift is recovered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capforecast.planning import PoolSpec
from capforecast.planning._forecast_method import REFERENCE_MODEL, REFERENCE_PARAMS
from capforecast.planning.adaptive import AdaptiveLevel, _binomial_sf, choose, lead_bound, window_level
from capforecast.planning.simulate import ForecastMethod, decision_schedule, simulate

OLD = ForecastMethod(model=REFERENCE_MODEL, model_params=REFERENCE_PARAMS)


def test_the_level_follows_the_aci_update_and_stays_bounded():
    aci = AdaptiveLevel(target=0.05, gamma=0.1)
    aci.observe(True)
    assert aci.alpha == pytest.approx(0.05 + 0.1 * (0.05 - 1))
    for _ in range(50):
        aci.observe(True)
    assert aci.alpha == pytest.approx(-0.05) and aci.level == 1.0  # the largest score, never deaf for ever
    for _ in range(400):
        aci.observe(False)
    assert aci.alpha > 0.05 and aci.level < 0.95  # a pool that holds its target with room to spare loosens


def test_the_aim_gives_every_target_the_same_chance_of_a_missed_week():
    from math import comb

    def exceed(k: int, n: int, p: float) -> float:  # by hand: 1 - sum of the binomial terms up to k
        return 1 - sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))

    for target, allowed in ((0.05, 8), (0.01, 1)):  # a week of hours allows 8 busy steps at 5 %, 1 at 1 %
        p = window_level(target, 168, risk=0.2)
        assert p < target and exceed(allowed, 168, p) == pytest.approx(0.2, abs=1e-9)
        assert _binomial_sf(allowed, 168, p) == pytest.approx(exceed(allowed, 168, p), abs=1e-12)
    assert window_level(0.01, 168) / 0.01 < 0.6 < 0.7 < window_level(0.05, 168) / 0.05 < 0.8
    assert window_level(0.01, 168, risk=0.1) < window_level(0.01, 168, risk=0.2)  # less risk, tighter
    assert window_level(0.01, 2016) > window_level(0.01, 168)  # a longer window averages more steps
    assert window_level(0.05, 1) == 0.05  # one step: the target itself


def test_each_lead_gets_its_own_spread_and_a_zero_forecast_needs_gpus_not_a_multiplier():
    rng = np.random.default_rng(3)
    leads = np.tile(np.arange(1, 25), 30)
    f = np.full(leads.size, 100.0)
    d = f + rng.normal(0, 1, leads.size) * leads  # errors grow with the lead
    lb = lead_bound("additive", f, d, leads, 0.9, lead_bucket=6)
    near, far = lb.apply(np.array([100.0, 100.0]), np.array([1, 24]))
    assert far - 100 > 3 * (near - 100) > 0
    for lead in (3, 21):  # about 90 % of each lead bucket is held, not just 90 % overall
        mine = (leads >= lead - 2) & (leads <= lead + 3)
        held = np.mean(d[mine] <= lb.apply(f[mine], leads[mine]))
        assert 0.8 <= held <= 0.98
    zero = np.zeros(200)
    demand = np.where(np.arange(200) % 20 == 0, 8.0, 0.0)
    i, lb = choose([zero], demand, np.ones(200, int), 0.99, lambda v: np.ceil(v / 8).sum())
    assert lb.kind == "additive" and lb.apply(np.zeros(1), np.ones(1, int)).tolist() == [8.0]


def test_the_1_percent_plan_is_not_the_5_percent_plan_when_the_spread_is_wide():
    rng = np.random.default_rng(5)
    f = np.full(400, 10.0)
    d = f * np.exp(rng.normal(0, 1.2, 400))  # a bursty pool: the old cap of 3.0 made both plans equal
    leads = np.ones(400, int)
    five = lead_bound("multiplicative", f, d, leads, 0.95).apply(f[:1], leads[:1])[0]
    one = lead_bound("multiplicative", f, d, leads, 0.99).apply(f[:1], leads[:1])[0]
    assert one > five > 40.0  # above 10 * (1 + 3)


def drifting_frame(days: int = 24, drift_day: int = 17) -> pd.DataFrame:
    """A daily cycle whose bursts grow sixfold from ``drift_day`` on: the test week is unlike its validation."""
    rng = np.random.default_rng(42)
    ds = pd.date_range("2026-03-02", periods=24 * days, freq="h", tz="UTC")
    t = np.arange(len(ds))
    noise = rng.normal(0, 4, len(ds)) * np.where(t >= 24 * drift_day, 6.0, 1.0)
    y = 120 + 40 * np.sin(2 * np.pi * t / 24) + noise
    return pd.DataFrame({"unique_id": "a100", "ds": ds, "y": np.maximum(y, 0)})


def test_adaptive_calibration_recovers_the_target_within_a_drifting_test_week():
    frame = drifting_frame()
    pool = PoolSpec(name="a100", gpus_per_node=1, min_nodes=0, max_nodes=10_000, lead_time="0s",
                    scale_in_cooldown="0s", min_window="0s", target_busy=0.05)
    runs = {}
    for gamma in (0.0, OLD.gamma):  # the default settings, with and without the adaptive level
        method = ForecastMethod(model=OLD.model, model_params=OLD.model_params, gamma=gamma)
        plans, scores = simulate(frame, [pool], "hourly", test_days=7, val_days=7, method=method, baselines=())
        ours = plans[plans["method"] == "capforecast"].set_index("ds")["nodes"]
        y = frame.set_index("ds")["y"].reindex(ours.index)
        runs[gamma] = (scores.set_index("method").loc["capforecast"], (y > ours).to_numpy())
    (fixed, fixed_miss), (adaptive, adaptive_miss) = runs[0.0], runs[OLD.gamma]
    assert fixed_miss[:24].sum() >= 4 and adaptive_miss[:24].sum() >= 4  # the drift hits both on day 1
    assert fixed["busy"] > 0.10 and fixed_miss[-96:].mean() > 0.05  # a fixed level lags the drift for days
    assert adaptive["busy"] < fixed["busy"] / 2
    assert adaptive_miss[-96:].mean() <= 0.05  # the adaptive one holds the target again within the week


def test_lead_time_moves_the_decisions_and_keeps_the_protocol_at_zero():
    ds = pd.date_range("2020-05-01", periods=72, freq="h", tz="UTC")
    zero = decision_schedule(ds, 30, 72, "hourly", lead_time="1h")
    plain = decision_schedule(ds, 30, 72, "hourly")
    assert [(d.time, d.observed) for d in zero] == [(d.time, d.observed) for d in plain]
    two = decision_schedule(ds, 30, 72, "hourly", lead_time="90min")[0]  # rounded up to two steps
    assert two.targets.tolist() == [30] and two.time == ds[30] - pd.Timedelta("2h") and two.observed == 28
    night = decision_schedule(ds, 30, 72, "nightly", lead_time="1h")
    assert [str(d.time) for d in night] == ["2020-05-01 23:00:00+00:00", "2020-05-02 23:00:00+00:00"]
    assert all(ds[d.observed - 1] + pd.Timedelta("1h") <= d.time for d in night)


def test_a_model_with_update_is_trained_once_then_only_given_new_demand(monkeypatch):
    from capforecast.models.gbm import GBMForecaster

    calls = {"fit": 0, "update": 0}
    real_fit, real_update = GBMForecaster.fit, GBMForecaster.update

    def fit(self, df):  # noqa: ANN001 - counts the real calls
        calls["fit"] += 1
        return real_fit(self, df)

    def update(self, df):  # noqa: ANN001
        calls["update"] += 1
        assert df["ds"].max() > self.last_ds_.max() - pd.Timedelta("1D")  # newer demand, never less
        return real_update(self, df)

    monkeypatch.setattr(GBMForecaster, "fit", fit)
    monkeypatch.setattr(GBMForecaster, "update", update)
    frame = drifting_frame(days=12, drift_day=99)
    pool = PoolSpec(name="a100", gpus_per_node=8, min_nodes=0, max_nodes=1000, lead_time="0s",
                    scale_in_cooldown="0s", min_window="0s", target_busy=0.05)
    method = ForecastMethod(model="gbm", model_params=(("max_iter", 20),))
    _, scores = simulate(frame, [pool], "nightly", test_days=2, val_days=2, method=method, baselines=())
    assert calls["fit"] == 1 and calls["update"] >= 4  # one fit before calibration, then daily context
    assert scores.set_index("method").loc["capforecast", "cost_ratio"] < 3


def test_the_reference_forecast_is_a_candidate_beside_a_champion_that_misses_the_daily_shape():
    """``naive`` plans a daily cycle from its 23:00 value; the reference (the same hour of the last 7 days) knows
    the shape, so with it the calibrated plan is cheaper and still meets the target."""
    rng = np.random.default_rng(11)
    ds = pd.date_range("2026-03-02", periods=24 * 26, freq="h", tz="UTC")
    hour = ds.hour.to_numpy()
    y = 40 + 120 * np.exp(-0.5 * ((hour - 13) / 3.0) ** 2) + rng.normal(0, 4, len(ds))
    frame = pd.DataFrame({"unique_id": "a100", "ds": ds, "y": np.maximum(y, 0)})
    pool = PoolSpec(name="a100", gpus_per_node=8, min_nodes=0, max_nodes=1000, lead_time="0s",
                    scale_in_cooldown="0s", min_window="0s", target_busy=0.05)
    decisions = decision_schedule(ds, 24 * 19, 24 * 20, "nightly")
    scored = {}
    for reference in (False, True):
        method = ForecastMethod(model="naive", reference=reference)
        fc = method.forecasts(frame, [d.time for d in decisions])
        est, _ = method.estimates("a100", frame["y"].to_numpy(), ds, decisions, "nightly", fc)
        assert est.shape[0] == (2 if reference else 1)  # one nightly estimate per source
        _, scores = simulate(frame, [pool], "nightly", test_days=5, val_days=5, method=method, baselines=())
        scored[reference] = scores.set_index("method").loc["capforecast"]
    assert scored[True]["met"] and scored[True]["cost_ratio"] < 0.9 * scored[False]["cost_ratio"]
    def columns(**kw: object) -> list[str]:
        return ForecastMethod(**kw).forecasts(frame, [ds[24 * 19]])[ds[24 * 19]].columns.tolist()

    assert columns(model=REFERENCE_MODEL, model_params=REFERENCE_PARAMS) == ["low", "mid", "q"]  # not twice
    # the same model with other settings (its defaults: the same hour of the last 4 weeks) is not the reference
    assert columns(model=REFERENCE_MODEL) == ["low", "mid", "q", "low_ref", "mid_ref", "q_ref"]
