"""Benchmark: ``capforecast exporter`` serving runs of 2 to 1,000 pools — start-up, scrape time, size, memory.

For each size a run directory is written with capforecast's own planner and emitters (a 24-hour hourly
forecast with a daily cycle per pool, p50/p90/p95), the exporter is started as the command line runs it
(``capforecast exporter --port 0``), scraped 20 times over HTTP, and its resident memory is read from its
own ``process_resident_memory_bytes``.

    .venv/bin/python benchmarks/exporter.py [--pools 2,100,1000] [--scrapes 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table  # noqa: E402

from capforecast.emit import write_plan_json  # noqa: E402
from capforecast.planning import PoolSpec  # noqa: E402
from capforecast.planning.planner import plan_capacity  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOW = pd.Timestamp.now(tz="UTC").floor("h")


def write_run(folder: Path, n_pools: int) -> None:
    ds = pd.date_range(NOW, periods=24, freq="h")
    hours = np.arange(24)
    rows, pools = [], []
    for i in range(n_pools):
        name = f"pool-{i:04d}"
        base = 20 + (i % 50)
        yhat = base * (1 + 0.4 * np.sin(2 * np.pi * (hours + i) / 24))
        rows.append(pd.DataFrame({"unique_id": name, "ds": ds, "model": "seasonal_naive", "yhat": yhat,
                                  "p50": yhat, "p90": yhat * 1.2, "p95": yhat * 1.3}))
        pools.append(PoolSpec(name=name, gpus_per_node=8, min_nodes=1, max_nodes=40, lead_time="15m"))
    forecast = pd.concat(rows, ignore_index=True)
    plan = plan_capacity(forecast, pools, now=NOW)
    forecast.to_csv(folder / "forecast.csv", index=False)
    write_plan_json(plan, pools, folder)


def scrape(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = resp.read()
    return time.perf_counter() - start, body


def measure(n_pools: int, scrapes: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        write_run(run, n_pools)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "capforecast.cli", "-q", "exporter", "--run-dir", str(run), "--host",
             "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            line = proc.stdout.readline()
            ready = time.perf_counter() - start
            url = "http://" + line.split("http://", 1)[1].split()[0]
            times, body = [], b""
            for _ in range(scrapes):
                seconds, body = scrape(url)
                times.append(seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    text = body.decode()
    rss = next(float(ln.split()[1]) for ln in text.splitlines()
               if ln.startswith("process_resident_memory_bytes "))
    series = sum(1 for ln in text.splitlines() if ln.startswith("capforecast_"))
    return {"pools": n_pools, "series": series, "start-up s": ready,
            "scrape ms (median)": 1000 * statistics.median(times), "scrape ms (max)": 1000 * max(times),
            "size KB": len(body) / 1024, "RSS MB": rss / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", default="2,100,1000")
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    rows = [measure(int(n), args.scrapes) for n in args.pools.split(",")]
    columns = ["pools", "series", "start-up s", "scrape ms (median)", "scrape ms (max)", "size KB", "RSS MB"]
    print(markdown_table(rows, columns, digits=3))


if __name__ == "__main__":
    main()
