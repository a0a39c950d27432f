"""The exporter's collector on real nightly runs: values for a given time, a swapped ``latest``, realised.json,
label escaping, and the command's one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from capforecast.config import load_config
from capforecast.errors import OutputError
from capforecast.exporter import METRICS, RunCollector
from capforecast.pipeline import run_nightly
from tests.promserver import INSTALL_HINT, PrometheusServer
from tests.test_pipeline import DAY1, DAY2, POOLS, demand_series, write_config

ROOT = Path(__file__).resolve().parents[2]
AT = pd.Timestamp("2026-05-21T05:50", tz="UTC")  # inside DAY1's plan, 10 minutes before a step

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None, reason=INSTALL_HINT
)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A nightly job's output folder with two runs (DAY1, DAY2); ``latest`` points at DAY2."""
    tmp = tmp_path_factory.mktemp("nightly")
    with PrometheusServer.from_samples(demand_series(), tmp / "prom") as server:
        cfg = load_config(write_config(tmp, server.url))
        run_nightly(cfg, now=DAY1)
        run_nightly(cfg, now=DAY2)
    return cfg.output.dir


def scrape(collector: RunCollector) -> dict[str, dict[tuple, float]]:
    """The exposition text, parsed back: ``{sample name: {sorted label items: value}}``."""
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def at(t: pd.Timestamp):
    return lambda: t


def test_values_are_the_window_in_force_and_the_forecast_of_now_and_now_plus_lead(state: Path) -> None:
    run = state / "runs" / "2026-05-21"
    got = scrape(RunCollector(run, clock=at(AT)))
    plan = json.loads((run / "plan.json").read_text())
    fc = pd.read_csv(run / "forecast.csv", parse_dates=["ds"])
    summary = json.loads((run / "run.json").read_text())
    for pool in POOLS:
        spec = plan["pools"][pool]
        (win,) = [w for w in spec["windows"] if pd.Timestamp(w["apply_at"]) <= AT < pd.Timestamp(w["until"])]
        assert got["capforecast_planned_nodes"][(("pool", pool),)] == win["nodes"]
        assert got["capforecast_planned_gpus"][(("pool", pool),)] == win["nodes"] * spec["gpus_per_node"]
        assert got["capforecast_planned_spare_gpus"][(("pool", pool),)] == win["spare_gpus"]
        lead = pd.Timedelta(seconds=spec["lead_time_seconds"])
        assert got["capforecast_lead_time_seconds"][(("pool", pool),)] == lead.total_seconds() == 900
        for label, t in (("now", AT), ("lead", AT + lead)):  # 05:50 -> the 05:00 step; 06:05 -> the 06:00 step
            row = fc[(fc["unique_id"] == pool) & (fc["ds"] == t.floor("h"))].iloc[0]
            assert got["capforecast_forecast_yhat"][(("at", label), ("pool", pool))] == row["yhat"]
            for q, col in (("0.5", "p50"), ("0.9", "p90"), ("0.95", "p95")):
                key = (("at", label), ("level", q), ("pool", pool))
                assert got["capforecast_forecast_quantile"][key] == pytest.approx(row[col])
        champ = summary["champions"][pool]
        info = (("fallback", "false"), ("model", champ["model"]), ("pool", pool),
                ("version", summary["registry_versions"][pool]))
        assert got["capforecast_champion_info"] == {**got["capforecast_champion_info"], info: 1.0}
        assert got["capforecast_target_busy_ratio"][(("pool", pool),)] == pytest.approx(0.05)
    assert got["capforecast_exporter_evaluation_timestamp_seconds"][()] == AT.timestamp()
    assert "capforecast_realised_busy_ratio" not in got  # this run has no realised.json: no such series
    assert set(got) <= set(METRICS)  # every name it emits is documented (and the dashboard test reads METRICS)
    done = subprocess.run(["promtool", "check", "metrics"], capture_output=True, text=True,
                          input=generate_latest(_registry(RunCollector(run, clock=at(AT)))).decode())
    assert done.returncode == 0, done.stdout + done.stderr


def _registry(collector: RunCollector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def test_outside_every_window_no_capacity_is_made_up(state: Path) -> None:
    run = state / "runs" / "2026-05-21"
    for t in (pd.Timestamp("2026-05-20T12:00", tz="UTC"), pd.Timestamp("2026-06-01", tz="UTC")):
        got = scrape(RunCollector(run, clock=at(t)))
        assert "capforecast_planned_nodes" not in got and "capforecast_forecast_yhat" not in got
        ends = got["capforecast_plan_end_timestamp_seconds"]  # still says when the plan runs out
        assert set(ends) == {(("pool", p),) for p in POOLS}


def test_a_swapped_latest_is_served_at_the_next_scrape_and_a_broken_one_keeps_the_last(
    state: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    for day in ("2026-05-21", "2026-05-22"):
        shutil.copytree(state / "runs" / day, runs / day)
    latest = tmp_path / "latest"
    os.symlink("runs/2026-05-21", latest)
    collector = RunCollector(latest, clock=at(DAY2 + pd.Timedelta("1h")))
    first = scrape(collector)
    assert [dict(k)["date"] for k in first["capforecast_run_info"]] == ["2026-05-21"]
    swap = tmp_path / ".latest.tmp"
    os.symlink("runs/2026-05-22", swap)
    os.replace(swap, latest)  # what the nightly job does
    second = scrape(collector)
    assert [dict(k)["date"] for k in second["capforecast_run_info"]] == ["2026-05-22"]
    assert second["capforecast_exporter_run_ok"][()] == 1.0
    plan = json.loads((runs / "2026-05-22" / "plan.json").read_text())
    t = DAY2 + pd.Timedelta("1h")
    wins = {p: [w for w in plan["pools"][p]["windows"] if pd.Timestamp(w["apply_at"]) <= t
                < pd.Timestamp(w["until"])][0]["nodes"] for p in POOLS}
    assert second["capforecast_planned_nodes"] == {(("pool", p),): n for p, n in wins.items()}
    (runs / "2026-05-22" / "plan.json").write_text("{not json", encoding="utf-8")
    third = scrape(collector)
    assert third["capforecast_exporter_run_ok"][()] == 0.0  # says the values are stale ...
    assert third["capforecast_planned_nodes"] == second["capforecast_planned_nodes"]  # ... and keeps them


def test_realised_scores_are_served_as_the_job_metrics_have_them_and_labels_are_escaped(
    state: Path, tmp_path: Path
) -> None:
    # the second night scored the first night's plan: realised.json and the textfile hold the same scores
    run = tmp_path / "run"
    shutil.copytree(state / "runs" / "2026-05-22", run)
    realised = json.loads((run / "realised.json").read_text())["pools"]
    assert set(realised) == set(POOLS)
    summary = json.loads((run / "run.json").read_text())
    odd = 'gbm "v2" \\ tuned\nnightly'
    summary["champions"]["a100"]["model"] = odd
    (run / "run.json").write_text(json.dumps(summary), encoding="utf-8")
    got = scrape(RunCollector(run, clock=at(DAY2 + pd.Timedelta("4h20min"))))
    assert got["capforecast_realised_busy_ratio"] == {
        (("pool", p), ("window", label)): realised[p][window]["busy_ratio"]
        for p in POOLS for window, label in (("last_day", "1d"), ("last_7_days", "7d"))}
    textfile = (state.parent / "textfile" / "capforecast_nightly.prom").read_text()  # written by the same run
    job = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(textfile)
           for s in f.samples if s.name.startswith("capforecast_realised")}
    served = {(name, key): v for name, series in got.items() if name.startswith("capforecast_realised")
              for key, v in series.items()}
    assert served == job and job  # the exporter's realised series are the job's, name for name, value for value
    assert set(got) == set(METRICS)  # with every input present, every documented family is emitted
    models = {dict(k)["pool"]: dict(k)["model"] for k in got["capforecast_champion_info"]}
    assert models["a100"] == odd  # quotes, backslash and newline survive the round trip through the text format
    (run / "realised.json").write_text(json.dumps({"pools": {"a100": {"last_day": 0.03}}}), encoding="utf-8")
    with pytest.raises(OutputError, match=r"realised.json is not the realised scores"):
        RunCollector(run)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "capforecast.cli", "exporter", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run-dir", "{tmp}/nowhere"], r"run directory \S+/nowhere does not exist; pass --run-dir"),
        (["--run-dir", "{tmp}"], r"has no plan.json, so it is not a run directory"),
        (["--run-dir", "{run}", "--port", "70000"], r"--port 70000 is not a port"),
        (["--run-dir", "{run}", "--at", "yesterday-ish"], r"--at: cannot read 'yesterday-ish' as a time"),
    ],
)
def test_bad_input_is_one_line(state: Path, tmp_path: Path, args: list[str], message: str) -> None:
    done = cli(*(a.format(tmp=tmp_path, run=state / "latest") for a in args), "--host", "127.0.0.1")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("capforecast: error: "), done.stderr
    assert re.search(message, lines[0]), lines[0]


def test_the_default_run_dir_is_the_configs_latest(state: Path) -> None:
    import argparse

    from capforecast.commands.exporter import DEFAULT_RUN_DIR, _run_dir

    config = state.parent / "nightly.yaml"
    assert _run_dir(argparse.Namespace(run_dir=None, config=str(config))) == state / "latest"
    assert _run_dir(argparse.Namespace(run_dir=None, config=None)) == DEFAULT_RUN_DIR
    example = load_config(ROOT / "deploy" / "nightly.example.yaml", environ={})
    assert DEFAULT_RUN_DIR == example.output.latest  # the example job's latest, as deploy/ runs it
