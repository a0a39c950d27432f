"""Conformal calibration: 'say 5 %, get <= 5 %' on data that behaves like the calibration window."""

from __future__ import annotations

import numpy as np
import pytest

from capforecast.errors import PlanningError
from capforecast.planning.calibrate import calibrate_headroom


def test_headroom_is_the_finite_sample_conformal_rank():
    f = np.full(99, 100.0)
    d = 100.0 + np.arange(1.0, 100.0)  # scores d / f - 1 = 0.01 .. 0.99
    assert calibrate_headroom(f, d, 0.05).headroom == pytest.approx(0.95)  # ceil(100 * 0.95) = 95th smallest
    assert calibrate_headroom(f, d, 0.01).headroom == pytest.approx(0.99)
    # 50 steps cannot bound a 1 % miss rate: the largest score seen is the best available
    assert calibrate_headroom(f[:50], d[:50], 0.01).headroom == pytest.approx(0.50)


@pytest.mark.parametrize("target", [0.05, 0.01])
def test_calibrated_headroom_meets_the_target_on_fresh_data(target):
    rng = np.random.default_rng(7)
    level = rng.uniform(50, 150, 12_000)
    demand = level * rng.lognormal(0.0, 0.15, 12_000)
    cal = calibrate_headroom(level[:2000], demand[:2000], target)
    planned = cal.apply(level[2000:])
    miss = float(np.mean(demand[2000:] > planned))
    assert miss <= target * 1.3  # sampling noise only: the guarantee is marginal
    assert miss >= target * 0.4  # and it is not bought with wasted headroom


def test_a_stricter_target_never_gets_less_headroom():
    rng = np.random.default_rng(1)
    f = rng.uniform(10, 20, 400)
    d = f * rng.uniform(0.8, 1.3, 400)
    h = [calibrate_headroom(f, d, t).headroom for t in (0.2, 0.1, 0.05, 0.01)]
    assert h == sorted(h)


def test_additive_headroom_suits_pools_that_sit_at_zero():
    f = np.zeros(300)
    d = np.where(np.arange(300) % 50 == 0, 8.0, 0.0)  # a job of 8 GPUs now and then
    assert calibrate_headroom(f, d, 0.05).headroom == 0.0  # 2 % of steps busy is within 5 %
    one = calibrate_headroom(f, d, 0.01)  # no multiplier of 0 helps: GPUs on top instead, never a silent cap
    assert one.additive and one.apply(np.zeros(1)).tolist() == [8.0]
    add = calibrate_headroom(f, d, 0.05, additive=True)
    assert add.additive and add.apply(np.zeros(1)).tolist() == [0.0]  # 2 % of steps busy is within 5 %
    assert calibrate_headroom(f, d, 0.01, additive=True).apply(np.zeros(1)).tolist() == [8.0]


def test_calibration_skips_missing_demand_and_checks_inputs():
    f = np.full(200, 10.0)
    d = np.r_[np.full(190, 11.0), np.full(10, np.nan)]
    assert calibrate_headroom(f, d, 0.05).headroom == pytest.approx(0.1)
    assert calibrate_headroom(f, d, 0.05).n_scores == 190
    with pytest.raises(PlanningError, match="share between 0 and 1"):
        calibrate_headroom(f, d, 5)
    with pytest.raises(PlanningError, match="aligned"):
        calibrate_headroom(f[:10], d, 0.05)
    with pytest.raises(PlanningError, match="no calibration step"):
        calibrate_headroom(f, np.full(200, np.nan), 0.05)


def test_calibrated_forecast_from_a_real_backtest_keeps_its_promise_on_the_next_days():
    import pandas as pd

    from capforecast.evaluation import cross_validation
    from capforecast.frames import validate_forecast
    from capforecast.models import get_model
    from capforecast.planning import PoolSpec, plan_capacity
    from capforecast.planning.calibrate import calibrate_forecast

    rng = np.random.default_rng(11)
    ds = pd.date_range("2026-03-02", periods=24 * 35, freq="h", tz="UTC")
    y = 200 + 80 * np.sin(2 * np.pi * np.arange(len(ds)) / 24) + rng.normal(0, 15, len(ds))
    frame = pd.DataFrame({"unique_id": "a100", "ds": ds, "y": y})
    history, future = frame.iloc[: 24 * 28], frame.iloc[24 * 28:]
    model = get_model("seasonal_quantile", season="daily", n_seasons=7)
    bt = cross_validation(history, {"sq": model}, h=24, n_windows=14, quantiles=[0.5, 0.9], progress=False)
    fc = model.fit(history).predict(24 * 7, quantiles=[0.5, 0.9, 0.99])
    pool = PoolSpec(name="a100", gpus_per_node=8, min_nodes=0, max_nodes=100, lead_time="0s",
                    scale_in_cooldown="0s", min_window="0s", target_busy=0.05)
    out, cals = calibrate_forecast(fc, bt.forecasts, [pool], base="p50")
    validate_forecast(out)  # quantiles still never cross
    assert (out["p99"] >= out["p95"]).all() and (out["p95"] >= out["p90"]).all()
    assert cals["a100"].n_scores == 14 * 24
    plan = plan_capacity(out, [pool])
    busy = np.mean(future["y"].to_numpy() > plan["gpus"].to_numpy())
    assert busy <= 0.05 + 0.03  # one week of fresh demand: close to the promise
    assert busy >= 0.005  # and not bought with a huge margin


def test_calibrate_forecast_names_what_is_missing():
    import pandas as pd

    from capforecast.planning import PoolSpec
    from capforecast.planning.calibrate import calibrate_forecast

    ds = pd.date_range("2026-05-01", periods=3, freq="h", tz="UTC")
    fc = pd.DataFrame({"unique_id": "a", "ds": ds, "model": "m", "yhat": 1.0})
    pool = PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=9, lead_time="5m")
    with pytest.raises(PlanningError, match="actual 'y'"):
        calibrate_forecast(fc, fc, [pool])
    with pytest.raises(PlanningError, match="no backtest rows"):
        calibrate_forecast(fc, fc.assign(y=1.0, unique_id="b"), [pool])
