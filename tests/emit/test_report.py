"""The ops report: markdown a person can read, one readable PNG per pool, comparisons and changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capforecast.emit import write_plan_json, write_report
from capforecast.emit.report import expected_busy
from capforecast.planning import parse_pools, plan_capacity

T0 = pd.Timestamp("2026-05-01", tz="UTC")
POOLS = {
    "budget": {"gpus": 120},
    "pools": [
        {"name": "a100-train", "gpus_per_node": 8, "min_nodes": 1, "max_nodes": 12, "lead_time": "15m",
         "priority": 100, "price_per_node_hour": 30.0},
        {"name": "h100-infer", "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 6, "lead_time": "10m",
         "target_busy": 0.1, "priority": 1, "price_per_node_hour": 90.0},
    ],
}


def frames_for(seed=0):
    rng = np.random.default_rng(seed)
    hist_ds = pd.date_range(T0 - pd.Timedelta(days=7), T0, freq="h", inclusive="left")
    fc_ds = pd.date_range(T0, periods=24, freq="h")
    hist, fc = [], []
    for k, name in enumerate(["a100-train", "h100-infer"]):
        hist_y = 40 + 10 * k + 25 * np.sin(2 * np.pi * hist_ds.hour / 24)
        hist.append(pd.DataFrame({"unique_id": name, "ds": hist_ds, "y": hist_y + rng.normal(0, 3, 168)}))
        mid = (40 + 10 * k + 25 * np.sin(2 * np.pi * fc_ds.hour.to_numpy() / 24)) * (1.5 if k else 1.0)
        fc.append(pd.DataFrame({"unique_id": name, "ds": fc_ds, "model": "m", "yhat": mid, "p50": mid,
                                "p90": mid + 8, "p95": mid + 12}))
    return pd.concat(hist, ignore_index=True), pd.concat(fc, ignore_index=True)


def test_expected_busy_reads_the_forecast_quantiles():
    fc = pd.DataFrame({"p50": [10.0, 10.0, 10.0], "p90": [20.0, 20.0, 20.0]})
    busy, sign = expected_busy(fc, np.array([10.0, 15.0, 20.0]))
    assert busy == pytest.approx((0.5 + 0.3 + 0.1) / 3) and sign == "~"
    assert expected_busy(fc, np.array([25.0, 25.0, 25.0])) == (pytest.approx(0.1), "<=")
    assert expected_busy(fc, np.array([5.0, 5.0, 5.0]))[1] == ">="


def test_report_has_summary_windows_changes_cuts_and_a_png_per_pool(tmp_path):
    pools = parse_pools(POOLS)
    history, forecast = frames_for()
    previous = plan_capacity(forecast, pools)
    forecast2 = forecast.assign(p95=forecast["p95"] + np.where(forecast["unique_id"] == "a100-train", 9.0, 0.0))
    plan = plan_capacity(forecast2, pools)
    path = write_report(tmp_path, plan=plan, pools=pools, forecast=forecast2, history=history,
                        previous_plan=previous)
    text = path.read_text()
    assert path == tmp_path / "report.md"
    for pool in ("a100-train", "h100-infer"):
        png = tmp_path / "report" / f"{pool}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
        assert f"](report/{pool}.png)" in text
    assert "| a100-train | 0.95 | 5% |" in text and "| h100-infer | 0.9 | 10% |" in text
    assert "steps changed; node-hours" in text  # a100-train's forecast rose since the previous plan
    assert "forecast wants more than max_nodes (6)" in text  # h100-infer is capped
    assert "## Budget cuts" in text and "| h100-infer | 1 |" in text  # the low tier was cut
    assert "| apply at (UTC) | until | nodes | GPUs | spare GPUs | reason |" in text
    # the static plan is costed from history: 24 steps x its nodes x price
    row = next(line for line in text.splitlines() if line.startswith("| a100-train |"))
    assert "history)" in row


def test_report_without_history_compares_with_the_plan_peak(tmp_path):
    pools = parse_pools(POOLS)
    _, forecast = frames_for()
    plan = plan_capacity(forecast, pools)
    text = write_report(tmp_path, plan=plan, pools=pools, forecast=forecast).read_text()
    assert "plan peak)" in text and "first plan (no previous plan given)" in text
    again = write_report(tmp_path, plan=plan, pools=pools, forecast=forecast, previous_plan=plan).read_text()
    assert "unchanged on the 24 overlapping steps" in again


def test_plan_json(tmp_path):
    import json

    pools = parse_pools(POOLS)
    _, forecast = frames_for()
    plan = plan_capacity(forecast, pools)
    doc = json.loads(write_plan_json(plan, pools, tmp_path).read_text())
    steps = doc["pools"]["a100-train"]["steps"]
    assert len(steps) == 24 and steps[0]["ds"] == "2026-05-01T00:00:00Z"
    assert [s["nodes"] for s in steps] == plan[plan["unique_id"] == "a100-train"]["nodes"].tolist()
    assert doc["pools"]["a100-train"]["windows"][0]["apply_at"] == "2026-04-30T23:45:00Z"


def test_summary_counts_windows_and_scale_events_beside_cost(tmp_path):
    history, forecast = frames_for()
    rows = {}
    for window in ("0s", "6h"):
        data = {"pools": [{**p, "min_window": window, "scale_in_cooldown": "0s"} for p in POOLS["pools"]]}
        pools = parse_pools(data)
        plan = plan_capacity(forecast, pools)
        text = write_report(tmp_path / window, plan=plan, pools=pools, forecast=forecast).read_text()
        header = next(line for line in text.splitlines() if line.startswith("| pool |"))
        cells = [c.strip() for c in header.strip("|").split("|")]
        row = next(line for line in text.splitlines() if line.startswith("| a100-train |"))
        values = dict(zip(cells, [c.strip() for c in row.strip("|").split("|")], strict=True))
        nodes = plan[plan["unique_id"] == "a100-train"]["nodes"].to_numpy()
        assert int(values["scale events"]) == int(np.count_nonzero(np.diff(nodes)))
        assert cells.index("windows") == cells.index("saving") + 1
        rows[window] = values
    assert int(rows["6h"]["windows"]) <= 4 < int(rows["0s"]["windows"])  # 24 h in 6 h windows
    assert int(rows["6h"]["scale events"]) < int(rows["0s"]["scale events"])
