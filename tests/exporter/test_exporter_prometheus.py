"""The bar: a real Prometheus scrapes ``capforecast exporter`` serving a real nightly run, and PromQL returns
each pool's planned nodes for the window in force now.

One Prometheus does both jobs: it holds backfilled GPU demand up to the last full hour (so the nightly job
runs for the real current time), and it scrapes the exporter (found through a file_sd targets file written
once the exporter has said which port it got).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from capforecast.config import load_config
from capforecast.exporter import METRICS
from capforecast.pipeline import run_nightly
from tests.grafana_check import expressions, metric_names
from tests.promserver import INSTALL_HINT, PrometheusServer
from tests.test_pipeline import POOLS, demand_series, write_config

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "capforecast.json"

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None, reason=INSTALL_HINT
)


def query(server: PrometheusServer, promql: str) -> list[dict]:
    url = f"{server.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]["result"]


def window_nodes(plan: dict, pool: str, t: pd.Timestamp) -> int:
    """The nodes of the pool's reservation window in force at ``t``, straight from plan.json."""
    for w in plan["pools"][pool]["windows"]:
        if pd.Timestamp(w["apply_at"]) <= t < pd.Timestamp(w["until"]):
            return int(w["nodes"])
    raise AssertionError(f"no window of {pool} holds {t}")


def start_exporter(run_dir: Path, log: Path) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "capforecast.cli", "exporter", "--run-dir", str(run_dir), "--host", "127.0.0.1",
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=log.open("wb"), text=True, env=env, cwd=ROOT,
    )
    line = proc.stdout.readline()  # "exporter: serving RUN_DIR on http://127.0.0.1:PORT/metrics"
    assert "/metrics" in line, f"exporter did not start: {line!r} {log.read_text()}"
    return proc, int(line.rsplit(":", 1)[1].split("/")[0])


def test_prometheus_scrapes_the_planned_nodes_of_each_pool_for_the_current_window(tmp_path: Path) -> None:
    now = pd.Timestamp.now(tz="UTC")
    end = now.floor("h") - pd.Timedelta("1h")  # the last complete hour, as a live Prometheus would hold
    targets = tmp_path / "targets.json"
    targets.write_text("[]", encoding="utf-8")
    scrape = {"job_name": "capforecast", "scrape_interval": "1s", "scrape_timeout": "1s",
              "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}]}
    server = PrometheusServer.from_samples(demand_series(end - pd.Timedelta(days=15), end), tmp_path / "prom",
                                           scrape_configs=[scrape])
    with server:
        cfg = load_config(write_config(tmp_path, server.url))
        assert run_nightly(cfg, now=now).status == "success"
        plan = json.loads((cfg.output.latest / "plan.json").read_text())
        proc, port = start_exporter(cfg.output.latest, tmp_path / "exporter.log")
        try:
            targets.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"]}]), encoding="utf-8")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                series = query(server, "capforecast_planned_nodes")
                stamps = {r["metric"]["pool"]: float(r["value"][1])
                          for r in query(server, "timestamp(capforecast_planned_nodes)")}
                if len(series) == len(POOLS) and len(stamps) == len(POOLS):
                    t = {p: pd.Timestamp(s, unit="s", tz="UTC") for p, s in stamps.items()}
                    # a sample scraped within a second of a window's edge may hold either side: ask again
                    if all(window_nodes(plan, p, t[p]) == window_nodes(plan, p, t[p] + pd.Timedelta("1s"))
                           for p in POOLS):
                        break
                time.sleep(0.5)
            else:
                raise AssertionError(f"Prometheus never scraped the exporter: {query(server, 'up')}")
            dashboard = [(where, expr, query(server, expr.replace("$pool", "a100")))
                         for where, expr in expressions(DASHBOARD)]
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0  # SIGTERM: a clean stop
    got = {r["metric"]["pool"]: float(r["value"][1]) for r in series}
    assert set(got) == set(POOLS)  # one series per pool
    assert {r["metric"]["job"] for r in series} == {"capforecast"}
    expected = {p: window_nodes(plan, p, t[p]) for p in POOLS}
    assert got == expected, (got, expected)
    assert all(n >= 1 for n in expected.values())  # min_nodes 1: a value was really planned, not a default 0
    # every expression of the Grafana dashboard runs on this Prometheus, and those reading the exporter's
    # metrics (all but the realised scores: a first run has no earlier plan to score) return data for the pool
    served = {n for n in METRICS if not n.startswith("capforecast_realised_")}
    for where, expr, result in dashboard:
        if metric_names(expr) <= served:
            assert result, f"{where}: {expr} returned nothing"
            if "$pool" in expr:  # the pool row's panels show that pool only
                assert {r["metric"]["pool"] for r in result} == {"a100"}, (where, result)
