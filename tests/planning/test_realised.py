"""Realised scores of earlier plans: plans laid end to end, the two windows, the per-day flag, widening."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capforecast.config import parse_config
from capforecast.errors import ConfigError
from capforecast.jobmetrics import JobMetrics, render
from capforecast.planning.pools import PoolSpec
from capforecast.planning.realised import plans_in_force, score_realised, widen_pool

END = pd.Timestamp("2026-05-10T00:00", tz="UTC")  # newest observed step
POOL = PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=10, lead_time="5m", target_busy=0.05)


def daily_plan(day: str, nodes: int, hours: int = 24) -> pd.DataFrame:
    ds = pd.date_range(pd.Timestamp(day, tz="UTC") + pd.Timedelta("1h"), periods=hours, freq="h")
    return pd.DataFrame({"unique_id": "a", "ds": ds, "nodes": nodes})


def test_the_newest_plan_holding_a_step_is_the_one_in_force() -> None:
    old = daily_plan("2026-05-08", 2, hours=48)  # a 48 h plan, overlapped by the next day's
    new = daily_plan("2026-05-09", 3)
    held = plans_in_force([old, new]).set_index("ds")["nodes"]
    assert held[pd.Timestamp("2026-05-09T00:00", tz="UTC")] == 2
    assert (held[pd.Timestamp("2026-05-09T01:00", tz="UTC"):] == 3).all()
    assert len(held) == 48


def test_windows_and_days_over_target_match_a_count_by_hand() -> None:
    # three daily plans of 2 nodes (16 GPUs); demand 6 GPUs (the oracle holds 1 node) except where set below
    plans = [daily_plan(d, 2) for d in ("2026-05-07", "2026-05-08", "2026-05-09")]
    ds = pd.date_range("2026-05-07T01:00Z", END, freq="h")
    y = pd.Series(6.0, index=ds)
    y["2026-05-07T05:00Z"] = y["2026-05-07T06:00Z"] = 20.0  # day -2: 2 of 24 busy (8.3 %)
    y["2026-05-08T07:00Z"] = 16.0  # day -1: at capacity is not busy
    y["2026-05-09T03:00Z"] = 30.0  # day 0: 2 of 23 observed steps busy
    y["2026-05-09T04:00Z"] = 17.0
    y["2026-05-09T09:00Z"] = np.nan  # not observed: left out
    actuals = pd.DataFrame({"unique_id": "a", "ds": ds, "y": y.to_numpy()})
    r = score_realised(plans, actuals, [POOL], end=END)
    s = r.summary["pools"]["a"]
    assert s["last_day"]["steps"] == 23 and s["last_day"]["busy_ratio"] == pytest.approx(2 / 23)
    assert s["last_day"]["unmet_share"] == pytest.approx((14 + 1) / (21 * 6 + 30 + 17))
    assert s["last_7_days"]["steps"] == 24 + 24 + 23
    assert s["last_7_days"]["busy_ratio"] == pytest.approx(4 / 71)
    oracle = 8 * 66 + 24 + 24 + 16 + 32 + 24  # GPUs of just enough nodes: 1 node for 6 GPUs, 3 for 20 or 17, ...
    assert s["last_7_days"]["cost_ratio"] == pytest.approx(16 * 71 / oracle)
    assert s["days_over_target"] == 2 and s["flagged"]  # day -2 and day 0 over 5 %, day -1 not
    assert not score_realised(plans, actuals, [POOL], end=END, flag_after_days=3).summary["pools"]["a"]["flagged"]
    assert r.steps["busy"].sum() == 4 and len(r.steps) == 71


def test_no_earlier_plan_scores_nothing() -> None:
    actuals = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2026-05-09T00:00Z", END, freq="h"), "y": 10.0})
    r = score_realised([], actuals, [POOL], end=END)
    assert r.summary["pools"] == {} and r.flagged() == [] and r.steps.empty
    # a plan entirely in the future of the observed demand scores nothing either
    assert score_realised([daily_plan("2026-05-10", 2)], actuals, [POOL], end=END).summary["pools"] == {}


def test_a_day_without_observed_steps_has_no_ratio() -> None:
    plans = [daily_plan("2026-05-08", 2)]  # nothing planned for the last day
    actuals = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2026-05-08T01:00Z", END, freq="h"), "y": 20.0})
    s = score_realised(plans, actuals, [POOL], end=END).summary["pools"]["a"]
    assert s["last_day"] == {"busy_ratio": None, "unmet_share": None, "cost_ratio": None, "steps": 0}
    assert s["last_7_days"]["busy_ratio"] == 1.0 and s["days_over_target"] == 1 and not s["flagged"]
    text = render(JobMetrics(start_time=0.0, end_time=1.0, status="success", realised={"a": s}))
    assert 'capforecast_realised_busy_ratio{pool="a",window="7d"} 1' in text
    assert 'window="1d"' not in text  # an undefined ratio is no sample, not NaN
    assert 'capforecast_realised_flagged{pool="a"} 0' in text


def test_widening_halves_the_miss_share() -> None:
    assert widen_pool(POOL).service_quantile == 0.975
    strict = PoolSpec(name="b", gpus_per_node=8, min_nodes=0, max_nodes=4, lead_time="5m", target_busy=0.01)
    assert widen_pool(strict).service_quantile == 0.995
    assert widen_pool(strict, 0.2).target_busy == 0.01  # the target stays; only the planned level moves
    explicit = PoolSpec(name="c", gpus_per_node=8, min_nodes=0, max_nodes=4, lead_time="5m", quantile=0.9)
    assert widen_pool(explicit).service_quantile == 0.95


def _config(realised: object) -> dict:
    return {"prometheus": {"url": "http://p:9090"}, "series": {"step": "1h", "history": "30d", "query": "q"},
            "pools": [{"name": "a", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 4, "lead_time": "5m"}],
            "output": {"dir": "/tmp/x"}, "realised": realised}


def test_the_realised_config_keys() -> None:
    cfg = parse_config(_config({"flag_after_days": 3, "widen": 0.25}), environ={})
    assert (cfg.realised.flag_after_days, cfg.realised.widen) == (3, 0.25)
    default = parse_config({k: v for k, v in _config({}).items() if k != "realised"}, environ={})
    assert (default.realised.flag_after_days, default.realised.widen) == (2, 0.5)
    with pytest.raises(ConfigError, match=r"realised\.widen: expected a share in \(0, 1\]"):
        parse_config(_config({"widen": 2}), environ={})
    with pytest.raises(ConfigError, match=r"realised\.flag_after_days"):
        parse_config(_config({"flag_after_days": 0}), environ={})
    with pytest.raises(ConfigError, match=r"realised"):
        parse_config(_config({"days": 3}), environ={})


def test_a_flagged_pool_is_widened_only_as_far_as_the_trained_models_reach() -> None:
    from capforecast.models import get_model
    from capforecast.pipeline._realised import _planned_pools
    from capforecast.pipeline._result import RunResult

    from ..conftest import make_frame

    data = _config({})
    data["pools"] = [{"name": n, "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 10, "lead_time": "5m",
                      "target_busy": t} for n, t in (("a", 0.05), ("b", 0.01), ("c", 0.05))]
    cfg = parse_config(data, environ={})
    plans = [daily_plan("2026-05-08", 1).assign(unique_id=u) for u in ("a", "b", "c")]
    ds = pd.date_range("2026-05-08T01:00Z", END, freq="h")
    actuals = pd.concat([pd.DataFrame({"unique_id": u, "ds": ds, "y": y}) for u, y in (("a", 9.0), ("b", 9.0),
                                                                                       ("c", 1.0))])
    pools = cfg.pool_specs()
    realised = score_realised(plans, actuals, pools, end=END, flag_after_days=1)
    assert realised.flagged() == ["a", "b"]
    frame = make_frame(ids=("a", "b", "c"), periods=24 * 10)
    free = get_model("seasonal_quantile").fit(frame)  # any level
    result = RunResult("success", cfg.output.dir)
    levels = {p.name: p.service_quantile for p in _planned_pools(cfg, realised, result, [free])}
    assert levels == {"a": 0.975, "b": 0.995, "c": 0.95}
    assert result.champions["b"]["widened_quantile"] == 0.995
    gbm = get_model("gbm", horizon=24, max_iter=5, quantiles=(0.5, 0.99)).fit(frame)  # learned up to 0.99
    result = RunResult("success", cfg.output.dir)
    levels = {p.name: p.service_quantile for p in _planned_pools(cfg, realised, result, [free, gbm])}
    assert levels == {"a": 0.975, "b": 0.99, "c": 0.95}
    assert any(n.startswith("pool b: widened only to quantile 0.99, the highest level") for n in result.notes)
    assert "widened_quantile" not in result.champions.get("b", {})
