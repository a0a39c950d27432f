"""Benchmark: the nightly job on a fleet of N pools (16, 256, 2,048), served by a local Prometheus.

Each pool is one hourly series ``gpu_demand{pool=...}`` over 35 days, built from real shapes, not noise:
a window of a Helios Earth virtual cluster (running + pending GPUs), an M4 hourly series, or the bundled
sample's generator (daily and weekly seasons, growth, bursts), in turn. Each is cut to 35 days at a random
offset, rescaled to a pool of 16-512 GPUs and shifted onto the same 35 days ending at the run's ``--now``.
Hourly steps (not 5-minute ones) keep 2,048 pools x 35 days at 1.7 M samples, what the nightly job reads
at its ``series.step: 1h``.

The samples are backfilled into a throw-away Prometheus (``tests/promserver.py``: promtool, Debian's
``prometheus``) and ``capforecast nightly`` runs in its own process with the default config (candidates
seasonal_naive, seasonal_quantile and gbm, 3 backtest windows of 24 h, forecast 24 h), the first run of a
fresh state directory (the whole history is ingested). Printed per N: wall time, peak memory (the summed
RSS of the job's process tree, sampled every 0.1 s with psutil), time per step from ``run.json``, and the
growth exponent ``log(t2 / t1) / log(N2 / N1)`` between consecutive sizes (1 = linear).

    nice -n 10 .venv/bin/python benchmarks/fleet.py [--sizes 16,256,2048] [--backend loky|dask|...]

Aim: growth at most linear in N, 2,048 pools in under 15 minutes and under 4 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from capforecast.datasets import load_helios, load_m4_hourly  # noqa: E402
from capforecast.ingest.sample import make_sample  # noqa: E402
from tests.promserver import PrometheusServer, Series  # noqa: E402

NOW = pd.Timestamp("2026-05-01T01:30:00Z")
DAYS = 35
HOURS = DAYS * 24
SIZES = (16, 256, 2048)

CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from capforecast.cli import main
t0 = time.perf_counter()
code = main(["-q", "nightly", "--config", {config!r}, "--now", {now!r}, "--no-progress", *{extra!r}])
print(json.dumps({{"code": code, "seconds": time.perf_counter() - t0}}))
"""


def _shapes(data: str | None, seed: int) -> list[np.ndarray]:
    """Real 35-day hourly shapes (NaN = no sample): Helios VC windows, M4 hourly series, generated pools."""
    rng = np.random.default_rng(seed)
    helios = load_helios(data, step="1h", total=False)
    out: list[np.ndarray] = []
    for _, g in helios.groupby("unique_id", sort=True):
        y = g["y"].to_numpy(np.float64)
        for _ in range(8):  # 8 windows per virtual cluster, each starting at a random whole day of May 2020
            at = 24 * int(rng.integers(0, len(y) // 24))
            out.append(np.resize(np.roll(y, -at), HOURS))  # the month is 31 days: the first 4 come again
    train, _test = load_m4_hourly(data)
    for _, g in train.groupby("unique_id", sort=True):
        y = g["y"].to_numpy(np.float64)
        out.append(np.resize(y, HOURS) if len(y) < HOURS else y[-HOURS:])  # short ones repeat (whole days)
    gen = make_sample(DAYS, pools=[f"gen-{k}" for k in range(64)], seed=seed)
    grid = pd.date_range(gen["ds"].min(), periods=HOURS, freq="h")
    out.extend(g.set_index("ds")["y"].reindex(grid).to_numpy(np.float64) for _, g in gen.groupby("unique_id"))
    return out


def build_fleet(n: int, data: str | None, seed: int = 0) -> tuple[list[Series], dict[str, int]]:
    """``n`` pools: shapes taken in turn from the three sources, rescaled and shifted onto the run's days."""
    shapes = _shapes(data, seed)
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(shapes))
    end = NOW.floor("1h") - pd.Timedelta(hours=1)
    ts = ((end - pd.Timedelta(hours=HOURS - 1)).value // 10**9 + 3600 * np.arange(HOURS)).astype(np.int64)
    series, capacity = [], {}
    for i in range(n):
        y = shapes[order[i % len(order)]]
        cap = int(rng.choice([16, 32, 64, 128, 256, 512]))
        top = np.nanmax(y) if np.isfinite(y).any() and np.nanmax(y) > 0 else 1.0
        scaled = np.round(y / top * cap * rng.uniform(0.6, 1.0), 1)
        keep = np.isfinite(scaled)
        name = f"pool-{i:04d}"
        series.append(Series("gpu_demand", {"pool": name}, ts[keep], scaled[keep]))
        capacity[name] = cap
    return series, capacity


def write_config(folder: Path, url: str, capacity: dict[str, int], compute: dict | None) -> Path:
    pools = [
        {"name": name, "gpus_per_node": 8, "min_nodes": 0, "max_nodes": max(1, math.ceil(cap * 1.5 / 8)),
         "lead_time": "15m", "target_busy": 0.05, "scale_in_cooldown": "2h"}
        for name, cap in capacity.items()
    ]
    cfg: dict = {
        "prometheus": {"url": url, "timeout": "120s"},
        "series": {"step": "1h", "history": f"{DAYS}d", "id_labels": ["pool"], "query": "gpu_demand"},
        "pools": pools,
        "output": {"dir": "state", "metrics_file": "state/capforecast_nightly.prom"},
    }
    if compute:
        cfg["compute"] = compute
    path = folder / "nightly.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # a worker that just exited
            pass
    return total


def run_once(config: Path, extra: list[str]) -> dict:
    """Run the nightly job in its own process; its exit code, wall seconds and peak tree RSS (MB)."""
    code = CHILD.format(root=str(ROOT), config=str(config), now=NOW.isoformat(), extra=extra)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0", "MPLBACKEND": "Agg"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=config.parent)
    peak, watched = 0, psutil.Process(proc.pid)
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(watched))
            except psutil.Error:
                return
            done.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    done.set()
    watcher.join()
    lines = out.strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        raise SystemExit(f"nightly run crashed:\n{err[-3000:]}")
    res = json.loads(lines[-1])
    res.update(peak_mb=peak / 2**20, stderr=err)
    return res


def measure(n: int, data: str | None, compute: dict | None, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"capforecast-fleet{n}-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        series, capacity = build_fleet(n, data)
        server = PrometheusServer.from_samples(series, folder / "prom")
        samples = sum(len(s.timestamps) for s in series)
        print(f"N={n}: backfilled {samples:,} samples in {time.perf_counter() - t0:.1f}s", flush=True)
        with server:
            res = run_once(write_config(folder, server.url, capacity, compute), extra)
        run = folder / "state" / "latest" / "run.json"
        if not run.is_file():
            raise SystemExit(f"N={n}: no run.json (exit {res['code']}):\n{res['stderr'][-3000:]}")
        summary = json.loads(run.read_text())
        summary["steps"].update(_published_steps(folder / "state" / "capforecast_nightly.prom"))
        pngs = len(list((folder / "state" / "latest").rglob("*.png")))
    champions = pd.Series([c.get("model") for c in summary["champions"].values()]).value_counts()
    return {"n": n, "samples": samples, "code": res["code"], "seconds": res["seconds"], "peak_mb": res["peak_mb"],
            "steps": summary["steps"], "rows": summary["rows_ingested"], "pngs": pngs,
            "champions": ", ".join(f"{m} x{k}" for m, k in champions.items())}


def _published_steps(textfile: Path) -> dict[str, float]:
    """Step times from the job-metrics textfile, which (unlike run.json, written before it) has ``publish``."""
    steps = {}
    for line in textfile.read_text().splitlines():
        if line.startswith('capforecast_nightly_step_duration_seconds{step="'):
            name = line.split('"')[1]
            steps[name] = float(line.rsplit(" ", 1)[1])
    return steps


def exponent(a: float, b: float, n_a: int, n_b: int) -> float:
    return math.log(b / a) / math.log(n_b / n_a) if a > 0 and b > 0 else math.nan


def print_table(rows: list[dict], label: str) -> None:
    steps = list(dict.fromkeys(k for r in rows for k in r["steps"]))
    print(f"\nnightly job, fleet of N pools x {DAYS} days hourly, {label}, {os.cpu_count()} CPUs, "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    head = ["N", "exit", "wall s", "peak MB", "PNGs", *steps]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        cells = [f"{r['n']:,}", str(r["code"]), f"{r['seconds']:.1f}", f"{r['peak_mb']:.0f}", str(r["pngs"]),
                 *(f"{r['steps'].get(s, 0.0):.1f}" for s in steps)]
        print("| " + " | ".join(cells) + " |")
    for a, b in zip(rows, rows[1:], strict=False):
        cells = [f"{exponent(a['seconds'], b['seconds'], a['n'], b['n']):.2f}",
                 f"{exponent(a['peak_mb'], b['peak_mb'], a['n'], b['n']):.2f}", "",
                 *(f"{exponent(a['steps'].get(s, 0), b['steps'].get(s, 0), a['n'], b['n']):.2f}" for s in steps)]
        print(f"| growth {a['n']:,}->{b['n']:,} | | " + " | ".join(cells) + " |")
    for r in rows:
        print(f"N={r['n']:,}: rows ingested {r['rows']:,}; champions {r['champions']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="pool counts (default 16,256,2048)")
    parser.add_argument("--backend", default=None, help="nightly --backend (default: the config's, in-process)")
    parser.add_argument("--scheduler", default=None, help="nightly --scheduler ADDRESS (dask)")
    parser.add_argument("--workers", type=int, default=None, help="nightly --workers")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    extra = [*(["--backend", args.backend] if args.backend else []),
             *(["--scheduler", args.scheduler] if args.scheduler else []),
             *(["--workers", str(args.workers)] if args.workers else [])]
    rows = [measure(n, args.data, None, extra) for n in sizes]
    print_table(rows, f"backend {args.backend or 'default'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
