"""Benchmark: the nightly job on the 16 Helios Earth virtual clusters, served by a local Prometheus.

The per-minute GPU demand (running + pending GPUs) of each virtual cluster is backfilled into a throw-away
Prometheus (``tests/promserver.py``: Debian's ``prometheus``/``promtool``), one series ``gpu_demand{pool=VC}``
per cluster. The nightly job then runs as a user would run it (``capforecast nightly --config ...`` in its own
process) on two consecutive days: the first run pulls the whole history window, the second only the new
day. Printed: wall time, peak memory (max RSS of the job's process), rows pulled, and the run's status.

    .venv/bin/python benchmarks/nightly.py [--data ../shared/data] [--history 21d] [--models a,b,c]

Aim: under 5 minutes per run on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from capforecast.datasets import load_helios  # noqa: E402
from tests.promserver import PrometheusServer, Series  # noqa: E402

DAY1 = "2020-05-24T01:30:00Z"
DAY2 = "2020-05-25T01:30:00Z"

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from capforecast.cli import main
t0 = time.perf_counter()
code = main(["-q", "nightly", "--config", {config!r}, "--now", {now!r}, "--no-progress"])
print(json.dumps({{"code": code, "seconds": time.perf_counter() - t0,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def series_for_prometheus(data: str | None) -> tuple[list[Series], dict[str, int]]:
    """Per-minute demand per virtual cluster, and each cluster's GPU capacity (max over the month)."""
    frame = load_helios(data, step="1m", total=False, exog=True)
    out, capacity = [], {}
    for vc, g in frame.groupby("unique_id", sort=True):
        g = g.dropna(subset=["y"])
        ts = np.asarray((g["ds"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1), dtype=np.int64)
        name = str(vc).lower()  # pool names become Kubernetes object names: lower case
        out.append(Series("gpu_demand", {"pool": name}, ts, g["y"].to_numpy(np.float64)))
        capacity[name] = int(np.nanmax(g["capacity_gpus"].to_numpy()))
    return out, capacity


def write_config(folder: Path, url: str, capacity: dict[str, int], history: str, models: list[str]) -> Path:
    pools = [
        {
            "name": vc,
            "gpus_per_node": 8,
            "min_nodes": 0,
            "max_nodes": max(1, math.ceil(cap * 1.5 / 8)),
            "lead_time": "15m",
            "target_busy": 0.05,
            "scale_in_cooldown": "2h",
        }
        for vc, cap in capacity.items()
    ]
    cfg = {
        "prometheus": {"url": url, "timeout": "60s"},
        "series": {
            "step": "1h",
            "history": history,
            "id_labels": ["pool"],
            "query": "avg by (pool) (avg_over_time(gpu_demand[1h]))",
        },
        "pools": pools,
        # gbm sized for a nightly budget on 2 shared cores (its defaults are tuned for accuracy, not time)
        "models": {
            "candidates": models,
            "fallback": "seasonal_naive",
            "params": {"gbm": {"horizon": 24, "max_iter": 60, "max_rows": 30000, "quantiles": [0.5, 0.9, 0.95]}},
        },
        "backtest": {"windows": 3, "horizon": "24h", "step": "24h"},
        "forecast": {"horizon": "24h", "quantiles": [0.5, 0.9]},
        "output": {"dir": "state", "metrics_file": "state/capforecast_nightly.prom"},
    }
    path = folder / "nightly.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def run_once(config: Path, now: str) -> dict:
    code = CHILD.format(root=str(ROOT), config=str(config), now=now)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0 and not done.stdout.strip():
        raise SystemExit(f"nightly run crashed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["stderr"] = done.stderr
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    parser.add_argument("--history", default="21d", help="series.history of the job (default 21d)")
    parser.add_argument(
        "--models",
        default="seasonal_naive,seasonal_quantile,gbm,holt_winters",
        help="candidate models, comma-separated",
    )
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    with tempfile.TemporaryDirectory(prefix="capforecast-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        series, capacity = series_for_prometheus(args.data)
        server = PrometheusServer.from_samples(series, folder / "prom")
        n_samples = sum(len(s.timestamps) for s in series)
        print(f"backfilled {n_samples:,} samples ({len(series)} series, 1 min) in {time.perf_counter() - t0:.1f}s")
        with server:
            config = write_config(folder, server.url, capacity, args.history, models)
            rows = []
            for label, now in (("first run (full history)", DAY1), ("next day (incremental)", DAY2)):
                res = run_once(config, now)
                summary = json.loads((folder / "state" / "latest" / "run.json").read_text())
                rows.append((label, res, summary))
            realised = json.loads((folder / "state" / "latest" / "realised.json").read_text())["pools"]
        print(
            f"\nnightly job, 16 Helios pools, candidates {', '.join(models)}, history {args.history}, "
            f"backtest 3 x 24h, {os.cpu_count()} CPUs"
        )
        print(f"{'run':<26} {'exit':>4} {'wall s':>8} {'peak MB':>8} {'rows pulled':>11}  steps (s)")
        for label, res, summary in rows:
            steps = " ".join(f"{k}={v:.1f}" for k, v in summary["steps"].items())
            print(
                f"{label:<26} {res['code']:>4} {res['seconds']:>8.1f} {res['max_rss_mb']:>8.0f} "
                f"{summary['rows_ingested']:>11,}  {steps}"
            )
        champions = pd.Series({p: c.get("model") for p, c in rows[-1][2]["champions"].items()})
        print("\nchampions:", ", ".join(f"{m} x{n}" for m, n in champions.value_counts().items()))
        for note in rows[-1][2]["notes"]:
            print("note:", note)
        if realised:  # the second run scores the first run's plan against the day observed since
            print(f"\nrealised, first run's plan (last day), as the second run reports it ({len(realised)} pools)")
            print(f"{'pool':<10} {'target':>6} {'busy':>7} {'unmet':>7} {'cost/oracle':>11} {'steps':>5} flagged")
            for pool, r in sorted(realised.items()):
                d = r["last_day"]
                busy, unmet = (f"{100 * d[k]:.1f}%" if d[k] is not None else "n/a"
                               for k in ("busy_ratio", "unmet_share"))
                cost = f"{d['cost_ratio']:.2f}" if d["cost_ratio"] is not None else "n/a"
                print(f"{pool:<10} {r['target']:>6.0%} {busy:>7} {unmet:>7} {cost:>11} {d['steps']:>5} {r['flagged']}")
            met = sum(1 for r in realised.values() if (r["last_day"]["busy_ratio"] or 0) <= r["target"])
            print(f"pools within target on the day: {met} of {len(realised)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
