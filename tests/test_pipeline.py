"""The nightly job end to end against a real Prometheus (tests/promserver.py): outputs, incremental ingest,
idempotence, the lock, a server that dies mid-run, a corrupt registry entry, and partial runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from capforecast import registry
from capforecast.config import load_config
from capforecast.errors import CapforecastError
from capforecast.pipeline import LockedError, run_nightly

from .promserver import INSTALL_HINT, PrometheusServer, Series, unix_seconds

ROOT = Path(__file__).resolve().parents[1]
START = pd.Timestamp("2026-05-01", tz="UTC")
END = pd.Timestamp("2026-05-22T00:00", tz="UTC")  # the last sample in Prometheus
DAY1 = pd.Timestamp("2026-05-21T01:30", tz="UTC")
DAY2 = pd.Timestamp("2026-05-22T01:30", tz="UTC")
POOLS = {"a100": (60.0, 8), "h100": (20.0, 8)}  # base GPUs, GPUs per node

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None, reason=INSTALL_HINT
)


def demand_series(start: pd.Timestamp = START, end: pd.Timestamp = END) -> list[Series]:
    """Hourly GPU demand per pool with a daily cycle, a weekday bump and noise (fixed seed)."""
    rng = np.random.default_rng(7)
    ds = pd.date_range(start, end, freq="h")
    hours = np.arange(len(ds))
    out = []
    for name, (base, _) in POOLS.items():
        y = base * (1 + 0.4 * np.sin(2 * np.pi * (hours - 8) / 24)) * np.where(ds.day_of_week < 5, 1.0, 0.7)
        y = np.round(np.maximum(y + rng.normal(0, base * 0.05, len(ds)), 0))
        out.append(Series("gpu_demand", {"pool": name}, unix_seconds(ds), y))
    return out


def write_config(tmp: Path, url: str, *, extra_pool: bool = False, models: dict | None = None) -> Path:
    pools = [
        {"name": n, "gpus_per_node": g, "min_nodes": 1, "max_nodes": 20, "lead_time": "15m", "target_busy": 0.05}
        for n, (_, g) in POOLS.items()
    ]
    if extra_pool:  # a pool Prometheus knows nothing about: the planner's fallback plans it
        pools.append({"name": "l4", "gpus_per_node": 4, "min_nodes": 0, "max_nodes": 3, "lead_time": "5m"})
    cfg = {
        "prometheus": {"url": url, "timeout": "10s", "retries": 0},
        "series": {"step": "1h", "history": "14d", "query": "sum by (pool) (gpu_demand)", "id_labels": ["pool"]},
        "pools": pools,
        "models": models or {"candidates": ["seasonal_naive", "seasonal_quantile"], "fallback": "seasonal_naive"},
        "backtest": {"windows": 2, "horizon": "24h", "step": "24h"},
        "forecast": {"horizon": "24h", "quantiles": [0.5, 0.9]},
        "output": {"dir": "state", "metrics_file": "textfile/capforecast_nightly.prom", "keep_runs": 5},
    }
    path = tmp / "nightly.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory):
    with PrometheusServer.from_samples(demand_series(), tmp_path_factory.mktemp("prom")) as server:
        yield server


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (and where ``latest`` points), to prove nothing changed."""
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".nightly.lock" and "cache" not in p.relative_to(root).parts
    }
    files["latest ->"] = os.readlink(root / "latest").encode() if (root / "latest").is_symlink() else b""
    return files


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "capforecast.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_nightly_run_writes_outputs_then_pulls_only_new_data(prom: PrometheusServer, tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, prom.url))
    state = cfg.output.dir
    first = run_nightly(cfg, now=DAY1)
    assert first.status == "success" and first.exit_code == 0
    run = state / "runs" / "2026-05-21"
    assert os.readlink(state / "latest") == "runs/2026-05-21"
    for name in ("forecast.csv", "plan.csv", "scores.csv", "report.md", "run.json", "k8s/kustomization.yaml"):
        assert (run / name).is_file(), name
    plan = pd.read_csv(run / "plan.csv", parse_dates=["ds"])
    assert set(plan["unique_id"]) == {"a100", "h100"}
    assert plan["ds"].min() == pd.Timestamp("2026-05-21T01:00", tz="UTC") or plan["ds"].min() <= DAY1
    assert plan.groupby("unique_id")["nodes"].nunique().max() > 1  # it follows the daily cycle
    summary = json.loads((run / "run.json").read_text())
    assert {c["model"] for c in summary["champions"].values()} <= {"seasonal_naive", "seasonal_quantile"}
    assert set(summary["steps"]) >= {"ingest", "backtest", "select", "train", "forecast", "plan", "write"}
    assert first.rows_ingested == 2 * 14 * 24  # the whole history window, first time
    metrics = cfg.output.metrics_file.read_text()
    assert 'capforecast_nightly_status{status="success"} 1' in metrics
    assert 'capforecast_nightly_planned_nodes_max{pool="a100"}' in metrics

    before = snapshot(state)
    again = run_nightly(cfg, now=DAY1 + pd.Timedelta("2h"))  # same day: the finished run is reused
    assert again.status == "reused" and again.exit_code == 0
    assert snapshot(state) == before

    second = run_nightly(cfg, now=DAY2)
    assert second.status == "success"
    assert second.rows_ingested == 2 * 24  # only the new day
    assert os.readlink(state / "latest") == "runs/2026-05-22"
    assert (state / "runs" / "2026-05-21" / "plan.csv").read_bytes() == before["runs/2026-05-21/plan.csv"]


def last_success_of(textfile: str) -> float:
    """The sample of capforecast_nightly_last_success_timestamp_seconds (not its HELP line)."""
    (value,) = re.findall(r"^capforecast_nightly_last_success_timestamp_seconds (\S+)$", textfile, re.MULTILINE)
    return float(value)


def test_prometheus_stopped_mid_run_leaves_everything_as_it_was(tmp_path: Path) -> None:
    server = PrometheusServer.from_samples(demand_series(), tmp_path / "prom").start()
    try:
        cfg = load_config(write_config(tmp_path, server.url))
        assert run_nightly(cfg, now=DAY1).status == "success"
        before = snapshot(cfg.output.dir)
        last_success = last_success_of(cfg.output.metrics_file.read_text())
        finished = json.loads((cfg.output.latest / "run.json").read_text())["finished_at"]
        assert last_success == pd.Timestamp(finished).timestamp()  # kept in the run's JSON state
        cfg.output.metrics_file.unlink()  # so the failed run below cannot have read it back from the file

        def stop_at_ingest(step: str, index: int, total: int) -> None:
            if step == "ingest":
                server.stop()

        with pytest.raises(CapforecastError):
            run_nightly(cfg, now=DAY2, progress=stop_at_ingest)
    finally:
        server.stop()
    assert snapshot(cfg.output.dir) == before  # models, runs, plan and latest untouched
    assert not list((cfg.output.dir / "runs").glob(".*"))  # no staging left behind
    metrics = cfg.output.metrics_file.read_text()
    assert 'capforecast_nightly_status{status="failure"} 1' in metrics
    assert last_success_of(metrics) == last_success
    # the command line says so in one line and exits 1
    done = cli("nightly", "--config", str(tmp_path / "nightly.yaml"), "--now", str(DAY2))
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("capforecast: error: ") and server.url.split("//")[1] in last, last
    assert "Traceback" not in done.stderr


def test_a_second_run_exits_clearly_while_the_first_holds_the_lock(prom: PrometheusServer, tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path, prom.url)
    cfg = load_config(cfg_path)
    seen: dict[str, object] = {}

    def second_run(step: str, index: int, total: int) -> None:
        if step == "backtest":
            with pytest.raises(LockedError) as err:
                run_nightly(cfg, now=DAY1)
            seen["in-process"] = str(err.value)
            seen["cli"] = cli("nightly", "--config", str(cfg_path), "--now", str(DAY1))

    assert run_nightly(cfg, now=DAY1, progress=second_run).status == "success"
    assert "another nightly run is in progress" in str(seen["in-process"])
    done = seen["cli"]
    assert done.returncode == 1 and "another nightly run is in progress" in done.stderr
    assert os.readlink(cfg.output.dir / "latest") == "runs/2026-05-21"


def test_a_corrupt_registry_entry_is_reported_and_replaced(prom: PrometheusServer, tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, prom.url))
    run_nightly(cfg, now=DAY1)
    champion = registry.load_metadata("a100", "champion", cfg.output.registry)["version"]
    state_files = [p for p in (cfg.output.registry / "a100" / champion / "model").rglob("*") if p.is_file()]
    state_files[0].write_bytes(b"garbage")  # bit rot in the saved model
    result = run_nightly(cfg, now=DAY2)
    assert result.status == "success"
    assert any(n.startswith("pool a100: the registry's champion entry is unreadable") for n in result.notes)
    fresh = registry.load_metadata("a100", "champion", cfg.output.registry)["version"]
    assert fresh != champion
    assert registry.load("a100", "champion", cfg.output.registry).alias in ("seasonal_naive", "seasonal_quantile")
    assert os.readlink(cfg.output.dir / "latest") == "runs/2026-05-22"


@pytest.mark.parametrize("edit", ["nodes", "text"])
def test_a_hand_edited_previous_plan_is_a_warning_and_the_run_plans_without_it(
    prom: PrometheusServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, edit: str
) -> None:
    cfg = load_config(write_config(tmp_path, prom.url))
    run_nightly(cfg, now=DAY1)
    plan = cfg.output.latest / "plan.csv"
    old = pd.read_csv(plan)
    # read by the same check as 'plan --previous-plan': no 'nodes' column, or nodes that are not whole numbers
    (old.drop(columns="nodes") if edit == "nodes" else old.assign(nodes="many")).to_csv(plan, index=False)
    with caplog.at_level("WARNING", logger="capforecast"):
        assert run_nightly(cfg, now=DAY2 - pd.Timedelta("1h")).status == "success"
    assert any(f"not planning from the previous plan {plan}: {plan} is not a plan" in r.getMessage()
               for r in caplog.records)


def test_a_foreign_champion_pointer_stops_the_run_before_any_work(prom: PrometheusServer, tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, prom.url))
    pointer = cfg.output.registry / "h100" / "CHAMPION"
    pointer.parent.mkdir(parents=True)
    pointer.write_text("my notes: h100 is pinned to the March model\n")
    before = snapshot(cfg.output.dir)
    with pytest.raises(CapforecastError, match=r"h100/CHAMPION was not written by capforecast"):
        run_nightly(cfg, now=DAY1)
    assert snapshot(cfg.output.dir) == before  # no run, no latest, no saved version


@pytest.mark.parametrize("content", [b"{half a summary", b"[1, 2]", b"\xff\xfe binary"])
def test_an_unreadable_run_json_of_a_finished_day_is_one_error_naming_the_fix(
    prom: PrometheusServer, tmp_path: Path, content: bytes
) -> None:
    cfg = load_config(write_config(tmp_path, prom.url))
    run_nightly(cfg, now=DAY1)
    summary = cfg.output.runs_dir / "2026-05-21" / "run.json"
    summary.write_bytes(content)
    before = snapshot(cfg.output.dir)
    with pytest.raises(CapforecastError, match=r"run\.json cannot be read .*; move .*2026-05-21 away, or run again "
                                               r"with --force"):
        run_nightly(cfg, now=DAY1 + pd.Timedelta("2h"))  # the same day: the finished run would be reused
    assert snapshot(cfg.output.dir) == before


def test_the_previous_champion_stays_unless_beaten_and_the_run_says_so(prom: PrometheusServer, tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, prom.url, models={"candidates": ["naive"]}))
    run_nightly(cfg, now=DAY1)
    # a seasonal challenger beats naive on this daily-cycle demand, but not by the 99 % asked for
    strict = {"candidates": ["naive", "seasonal_naive"], "min_improvement": 0.99}
    cfg = load_config(write_config(tmp_path, prom.url, models=strict))
    kept = run_nightly(cfg, now=DAY2)
    assert {c["model"] for c in kept.champions.values()} == {"naive"}
    assert all(c["kept_previous"] for c in kept.champions.values())
    assert any("kept previous champion naive" in n and "challenger seasonal_naive" in n for n in kept.notes)
    # without the margin the better model takes over
    cfg = load_config(write_config(tmp_path, prom.url, models={"candidates": ["naive", "seasonal_naive"]}))
    switched = run_nightly(cfg, now=DAY2, force=True)  # the same day again, replacing its run
    assert {c["model"] for c in switched.champions.values()} == {"seasonal_naive"}
    assert registry.load_metadata("h100", "champion", cfg.output.registry)["alias"] == "seasonal_naive"
    assert json.loads((cfg.output.latest / "run.json").read_text())["champions"]["h100"]["model"] == "seasonal_naive"
    # a day with no new data at all fails clearly and changes nothing
    with pytest.raises(CapforecastError, match="no data after 2026-05-22 00:00"):
        run_nightly(cfg, now=DAY2 + pd.Timedelta(days=2))
    assert os.readlink(cfg.output.latest) == "runs/2026-05-22"


def test_a_pool_without_data_makes_the_run_partial(prom: PrometheusServer, tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path, prom.url, extra_pool=True)
    done = cli("nightly", "--config", str(cfg_path), "--now", str(DAY1), "--no-progress")
    assert done.returncode == 3, done.stderr
    assert "l4" in done.stdout and "partial" in done.stdout
    plan = pd.read_csv(tmp_path / "state" / "latest" / "plan.csv")
    assert set(plan["unique_id"]) == {"a100", "h100", "l4"}
    assert plan.loc[plan["unique_id"] == "l4", "reason"].str.startswith("fallback").all()
    assert "nightly: ingest" in done.stderr and "done in" in done.stderr  # one log line per step
