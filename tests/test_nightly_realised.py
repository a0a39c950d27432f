"""What really happened: the second nightly run scores the first run's plan against the demand observed since.

Demand lives in a real Prometheus (tests/promserver.py); a burst on the day of the first plan makes the plan
miss. The realised busy share in ``realised.json``, the report and the job metrics is checked against a count
made here by hand from the first plan's windows and the demand written into Prometheus.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from capforecast.config import load_config
from capforecast.pipeline import run_nightly

from .promserver import INSTALL_HINT, PrometheusServer, Series, unix_seconds

START = pd.Timestamp("2026-05-01", tz="UTC")
END = pd.Timestamp("2026-05-22T00:00", tz="UTC")  # the last sample in Prometheus
DAY1 = pd.Timestamp("2026-05-21T01:30", tz="UTC")  # plans 05-21 01:00 .. 05-22 00:00
DAY2 = pd.Timestamp("2026-05-22T01:30", tz="UTC")  # sees demand up to the step of 05-22 00:00
GPUS_PER_NODE = 8

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None, reason=INSTALL_HINT
)


def demand() -> dict[str, pd.Series]:
    """Hourly GPU demand per pool: a daily cycle and noise; ``a100`` has a burst on 05-21 10:00-15:00."""
    rng = np.random.default_rng(3)
    ds = pd.date_range(START, END, freq="h")
    out = {}
    for name, base in (("a100", 60.0), ("h100", 20.0)):
        y = base * (1 + 0.4 * np.sin(2 * np.pi * (ds.hour.to_numpy() - 8) / 24))
        y = np.maximum(y + rng.normal(0, base * 0.05, len(ds)), 0)
        if name == "a100":
            burst = (ds >= "2026-05-21T10:00Z") & (ds <= "2026-05-21T15:00Z")
            y = np.where(burst, y * 1.6, y)
        out[name] = pd.Series(np.round(y), index=ds)
    return out


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory):
    series = [Series("gpu_demand", {"pool": name},
                     unix_seconds(y.index),
                     y.to_numpy()) for name, y in demand().items()]
    with PrometheusServer.from_samples(series, tmp_path_factory.mktemp("prom")) as server:
        yield server


def write_config(tmp: Path, url: str) -> Path:
    cfg = {
        "prometheus": {"url": url, "timeout": "10s", "retries": 0},
        "series": {"step": "1h", "history": "14d", "query": "sum by (pool) (gpu_demand)", "id_labels": ["pool"]},
        "pools": [{"name": n, "gpus_per_node": GPUS_PER_NODE, "min_nodes": 1, "max_nodes": 20, "lead_time": "15m",
                   "target_busy": 0.05} for n in ("a100", "h100")],
        "models": {"candidates": ["seasonal_naive", "seasonal_quantile"], "fallback": "seasonal_naive"},
        "backtest": {"windows": 2, "horizon": "24h", "step": "24h"},
        "forecast": {"horizon": "24h", "quantiles": [0.5, 0.9]},
        "realised": {"flag_after_days": 1},
        "output": {"dir": "state", "metrics_file": "textfile/capforecast_nightly.prom", "keep_runs": 5},
    }
    path = tmp / "nightly.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def by_hand(plan_csv: Path, pool: str) -> dict[str, float]:
    """Busy share, unmet share and cost ratio of one pool's plan on its observed steps, counted step by step."""
    y = demand()[pool]
    busy = steps = 0
    unmet = total = capacity = oracle = 0.0
    for row in pd.read_csv(plan_csv).itertuples():
        ds = pd.Timestamp(row.ds)
        if row.unique_id != pool or not (END - pd.Timedelta(days=1) < ds <= END):
            continue
        d, c = float(y[ds]), row.nodes * GPUS_PER_NODE
        steps += 1
        busy += d > c
        unmet += max(0.0, d - c)
        total += d
        capacity += c
        oracle += math.ceil(d / GPUS_PER_NODE) * GPUS_PER_NODE
    return {"steps": steps, "busy_ratio": busy / steps, "unmet_share": unmet / total, "cost_ratio": capacity / oracle}


def test_the_second_run_reports_what_the_first_plan_really_delivered(
    prom: PrometheusServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = load_config(write_config(tmp_path, prom.url))
    runs = cfg.output.runs_dir

    assert run_nightly(cfg, now=DAY1).status == "success"  # first run: no earlier plan, nothing to score
    first = json.loads((runs / "2026-05-21" / "realised.json").read_text())
    assert first["pools"] == {}
    assert "No earlier plan covers observed demand yet" in (runs / "2026-05-21" / "report.md").read_text()
    assert "capforecast_realised_" not in cfg.output.metrics_file.read_text()

    second = run_nightly(cfg, now=DAY2)
    assert second.status == "success"
    realised = json.loads((runs / "2026-05-22" / "realised.json").read_text())
    assert realised["as_of"] == "2026-05-22T00:00:00+00:00"
    plan1 = runs / "2026-05-21" / "plan.csv"
    metrics = cfg.output.metrics_file.read_text()
    report = (runs / "2026-05-22" / "report.md").read_text()
    for pool in ("a100", "h100"):
        hand = by_hand(plan1, pool)
        got = realised["pools"][pool]
        assert hand["steps"] == 24  # the whole first plan was observed by the second run
        assert got["last_day"]["steps"] == hand["steps"]
        for key in ("busy_ratio", "unmet_share", "cost_ratio"):
            assert got["last_day"][key] == pytest.approx(hand[key], abs=1e-6), (pool, key)
        assert got["last_7_days"] == got["last_day"]  # the first plan is the only one scored
        over = hand["busy_ratio"] > 0.05
        assert got["target"] == 0.05 and got["days_over_target"] == int(over) and got["flagged"] == over
        # the champion decision: a flagged pool plans for half the miss share (p95 -> p97.5)
        plan2 = pd.read_csv(runs / "2026-05-22" / "plan.csv")
        assert set(plan2.loc[plan2["unique_id"] == pool, "quantile"]) == {0.975 if over else 0.95}
        for name, key in (("busy_ratio", "busy_ratio"), ("unmet_ratio", "unmet_share"), ("cost_ratio", "cost_ratio")):
            for window in ("1d", "7d"):
                line = re.search(rf'^capforecast_realised_{name}{{pool="{pool}",window="{window}"}} (\S+)$', metrics,
                                 re.MULTILINE)
                assert line is not None and float(line.group(1)) == pytest.approx(hand[key], abs=1e-9), (name, window)
        assert f'capforecast_realised_flagged{{pool="{pool}"}} {int(over)}' in metrics
        assert (runs / "2026-05-22" / "report" / f"{pool}-realised.png").stat().st_size > 10_000
        assert f"| {pool} | 5% | {100 * hand['busy_ratio']:.1f} % |" in report
    a100 = by_hand(plan1, "a100")
    assert a100["busy_ratio"] >= 4 / 24  # the burst: the plan missed most of its six hours
    assert realised["pools"]["a100"]["flagged"]
    assert any("pool a100: realised busy above its target 5%" in n for n in second.notes)
    assert json.loads((runs / "2026-05-22" / "run.json").read_text())["champions"]["a100"]["widened_quantile"] == 0.975
    assert "| a100 | 5% |" in report and "**yes**: planned at quantile 0.975" in report

    # an earlier plan that is no longer a plan loses its score, with a warning, not the run
    pd.read_csv(plan1).assign(nodes=-1).to_csv(plan1, index=False)
    with caplog.at_level("WARNING", logger="capforecast"):
        assert run_nightly(cfg, now=DAY2, force=True).status == "success"
    assert any(f"not scoring the earlier plan {plan1}" in r.getMessage() for r in caplog.records)
    assert json.loads((runs / "2026-05-22" / "realised.json").read_text())["pools"] == {}
    assert set(pd.read_csv(runs / "2026-05-22" / "plan.csv")["quantile"]) == {0.95}  # nothing flagged: not widened
