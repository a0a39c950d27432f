"""``capforecast plan`` end to end: files in, plan.csv + plan.json + k8s overlay + report out; clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capforecast.cli import main
from tests.emit.k8s_check import kustomize, validate

POOLS = """
pools:
  - {name: a100-train, gpus_per_node: 8, min_nodes: 1, max_nodes: 12, lead_time: 15m, target_busy: 0.05}
  - {name: h100-infer, gpus_per_node: 8, min_nodes: 0, max_nodes: 6, lead_time: 10m, quantile: 0.9}
"""


@pytest.fixture
def files(tmp_path):
    ds = pd.date_range("2026-05-01", periods=24, freq="h", tz="UTC")
    rows = []
    for k, name in enumerate(["a100-train", "h100-infer"]):
        mid = 30 + 10 * k + 20 * np.sin(2 * np.pi * np.arange(24) / 24)
        rows.append(pd.DataFrame({"unique_id": name, "ds": ds.strftime("%Y-%m-%dT%H:%M:%SZ"), "model": "m",
                                  "yhat": mid, "p50": mid, "p90": mid + 6, "p95": mid + 9}))
    fc = tmp_path / "forecast.csv"
    pd.concat(rows).to_csv(fc, index=False)
    hist = tmp_path / "history.csv"
    hds = pd.date_range("2026-04-24", periods=168, freq="h", tz="UTC")
    pd.concat([pd.DataFrame({"unique_id": n, "ds": hds.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "y": 30 + 20 * np.sin(2 * np.pi * np.arange(168) / 24)})
               for n in ["a100-train", "h100-infer"]]).to_csv(hist, index=False)
    pools = tmp_path / "pools.yaml"
    pools.write_text(POOLS)
    return fc, pools, hist, tmp_path / "out"


def test_plan_writes_everything_and_reruns_compare(files, capsys):
    fc, pools, hist, out = files
    argv = ["plan", "--forecast", str(fc), "--pools", str(pools), "--out", str(out), "--history", str(hist)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "nothing was applied" in printed and "reservation windows" in printed
    plan = pd.read_csv(out / "plan.csv")
    assert list(plan.columns[:5]) == ["unique_id", "ds", "nodes", "gpus", "reason"] and len(plan) == 48
    assert plan.groupby("unique_id")["nodes"].nunique().min() > 1  # varies over the day
    assert (out / "plan.json").is_file() and (out / "report" / "a100-train.png").is_file()
    for obj in kustomize(out / "k8s"):
        validate(obj)
    assert "first plan" in (out / "report.md").read_text()
    assert main([*argv, "--state", "a100-train=12"]) == 0  # OUT/plan.csv is now the previous plan
    assert "steps changed" in (out / "report.md").read_text()


def test_plan_errors_are_one_line_with_the_fix(files, capsys):
    fc, pools, _, out = files
    Path(pools).write_text(POOLS.replace("quantile: 0.9", "quantile: 0.99"))
    assert main(["plan", "--forecast", str(fc), "--pools", str(pools), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'p99'" in err and "--quantiles 0.5,0.9,0.95,0.99" in err
    assert not out.exists()  # nothing half-written
    assert main(["plan", "--forecast", str(fc), "--pools", str(pools), "--out", str(out), "--state", "x"]) == 1
    assert "POOL=NODES" in capsys.readouterr().err


def test_pool_without_forecast_is_partial_success(files, capsys):
    fc, pools, hist, out = files
    Path(pools).write_text(POOLS + "  - {name: l4-batch, gpus_per_node: 4, min_nodes: 0, max_nodes: 3, "
                           "lead_time: 5m}\n")
    assert main(["plan", "--forecast", str(fc), "--pools", str(pools), "--out", str(out)]) == 3
    plan = pd.read_csv(out / "plan.csv")
    assert (plan.loc[plan["unique_id"] == "l4-batch", "nodes"] == 3).all()


def test_a_failing_run_leaves_the_previous_outputs_untouched(files, monkeypatch):
    import capforecast.emit

    fc, pools, _, out = files
    argv = ["plan", "--forecast", str(fc), "--pools", str(pools), "--out", str(out)]
    assert main(argv) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(*args, **kwargs):
        raise RuntimeError("matplotlib exploded")

    monkeypatch.setattr(capforecast.emit, "write_report", broken)
    with pytest.raises(RuntimeError):
        main([*argv, "--state", "a100-train=9"])
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".out")) == []
