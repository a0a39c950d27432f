"""A fleet report (more pools than report.FLEET_POOLS): every pool in the summary, and a section and a plot only
for the pools that need a look."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capforecast.emit import report
from capforecast.planning import parse_pools, plan_capacity

T0 = pd.Timestamp("2026-05-01", tz="UTC")
N = 40


def fleet():
    rng = np.random.default_rng(3)
    hist_ds = pd.date_range(T0 - pd.Timedelta(days=7), T0, freq="h", inclusive="left")
    fc_ds = pd.date_range(T0, periods=24, freq="h")
    hist, fc, pools = [], [], []
    for k in range(N):
        name = f"pool-{k:02d}"
        base = 30 + 20 * np.sin(2 * np.pi * hist_ds.hour / 24)
        # the last two pools: demand far above what the previous plan held, so that plan missed
        hist.append(pd.DataFrame({"unique_id": name, "ds": hist_ds, "y": base * (3 if k >= N - 2 else 1)
                                  + rng.normal(0, 1, len(hist_ds))}))
        mid = 30 + 20 * np.sin(2 * np.pi * fc_ds.hour.to_numpy() / 24)
        fc.append(pd.DataFrame({"unique_id": name, "ds": fc_ds, "model": "m", "yhat": mid, "p50": mid,
                                "p90": mid + 4, "p95": mid + 6}))
        # pool-00's max_nodes is below the forecast: capped
        pools.append({"name": name, "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 3 if k == 0 else 20,
                      "lead_time": "15m"})
    return pd.concat(hist, ignore_index=True), pd.concat(fc, ignore_index=True), parse_pools({"pools": pools})


def test_a_fleet_report_plots_only_the_pools_that_need_a_look(tmp_path):
    history, forecast, pools = fleet()
    plan = plan_capacity(forecast, pools)
    # the previous plan: the same plan, one day earlier, so it covers the last day of history
    previous = plan.assign(ds=plan["ds"] - pd.Timedelta(days=1))
    text = report.write_report(tmp_path, plan=plan, pools=pools, forecast=forecast, history=history,
                               previous_plan=previous).read_text()
    assert text.count("\n| pool-") >= N  # every pool has its summary row
    need = {"pool-00", f"pool-{N - 2}", f"pool-{N - 1}"}
    plotted = {p.stem for p in (tmp_path / "report").glob("*.png")}
    assert need <= plotted and len(plotted) < N // 2, plotted
    assert "## Pools that need a look" in text
    assert "capped at max_nodes" in text and "the previous plan missed" in text
    assert "## pool-05\n" not in text  # a pool that is fine has no section of its own
    assert sum(1 for line in text.splitlines() if line.startswith("## pool-")) == len(plotted)


def test_a_small_report_keeps_a_section_and_a_plot_per_pool(tmp_path):
    history, forecast, pools = fleet()
    few = [p for p in pools if p.name in ("pool-01", "pool-02", "pool-03")]
    plan = plan_capacity(forecast[forecast["unique_id"].isin([p.name for p in few])], few)
    report.write_report(tmp_path, plan=plan, pools=few, forecast=forecast, history=history)
    assert sorted(p.stem for p in (tmp_path / "report").glob("*.png")) == ["pool-01", "pool-02", "pool-03"]
