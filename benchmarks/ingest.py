"""Benchmark: 30 days x 1 minute x 64 series from a local Prometheus into a DataFrame.

capforecast's ``fetch`` side by side with prometheus-api-client's own ``get_metric_range_data`` +
``MetricRangeDataFrame``, on the same server and data. Each method runs in a fresh process so its peak memory
(``ru_maxrss``) is its own; the table shows seconds to fetch, seconds to build the frame, rows, rows/s end to
end, peak RSS and the growth of RSS over the process after imports.

Run from the project root (needs ``prometheus`` and ``promtool`` on PATH)::

    .venv/bin/python benchmarks/ingest.py            # 64 series
    .venv/bin/python benchmarks/ingest.py --series 8
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START = 1_777_593_600  # 2026-05-01T00:00:00Z
END = START + 30 * 86_400


def rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def run_one(method: str, url: str) -> dict[str, float]:
    """Run one method in this process and return its measurements."""
    import pandas as pd  # noqa: F401 - imported before the baseline, as a user would have it

    if method.startswith("capforecast"):
        from capforecast.ingest.connection import Connection
        from capforecast.ingest.prometheus import fetch
    else:
        from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect
    base = current_rss_mb()
    t0 = time.perf_counter()
    if method.startswith("capforecast"):
        conn = Connection(url, compress="gzip" in method)
        frame = fetch(conn, "gpu_used", START, END, "1m", id_labels=["series"])
        t1 = t2 = time.perf_counter()  # fetch returns the validated frame: building is inside
        dup = int(frame.duplicated(["unique_id", "ds"]).sum())
    else:
        pc = PrometheusConnect(url=url)
        chunk = None if method == "prometheus-api-client" else timedelta(days=1)
        data = pc.get_metric_range_data(
            "gpu_used",
            start_time=datetime.fromtimestamp(START, timezone.utc),
            end_time=datetime.fromtimestamp(END, timezone.utc),
            chunk_size=chunk,
        )
        t1 = time.perf_counter()
        frame = MetricRangeDataFrame(data)
        t2 = time.perf_counter()
        dup = int(frame.reset_index().duplicated(["series", "timestamp"]).sum())
    return {"fetch_s": t1 - t0, "frame_s": t2 - t1, "total_s": t2 - t0, "rows": len(frame), "dup": dup,
            "peak_mb": rss_mb(), "growth_mb": rss_mb() - base}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=64)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, args.url)))
        return 0

    from tests.promserver import PrometheusServer, Series

    ts = np.arange(START, END + 1, 60, dtype=np.int64)
    rng = np.random.default_rng(0)
    series = [Series("gpu_used", {"series": f"s{i:03d}", "pool": f"pool-{i % 4}"}, ts,
                     np.round(rng.gamma(4.0, 8.0, len(ts)), 3)) for i in range(args.series)]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        server = PrometheusServer.from_samples(series, tmp)
        print(f"backfilled {args.series} series x {len(ts)} points in {time.perf_counter() - t0:.1f}s")
        with server:
            rows = []
            for method in ("capforecast", "capforecast --compress (gzip)", "prometheus-api-client",
                           "prometheus-api-client 1d chunks"):
                done = subprocess.run([sys.executable, __file__, "--run", method, "--url", server.url],
                                      capture_output=True, text=True, check=True, cwd=ROOT)
                rows.append((method, json.loads(done.stdout.strip().splitlines()[-1])))
    print(f"\n{args.series} series x 30 days x 1 minute from a local Prometheus 2.42 ({len(ts)} points per series)\n")
    print(f"| {'method':33} | fetch s | frame s | total s | rows      | dup rows | rows/s    | peak MB | growth MB |")
    print(f"|{'-' * 35}|---------|---------|---------|-----------|----------|-----------|---------|-----------|")
    for method, m in rows:
        print(f"| {method:33} | {m['fetch_s']:7.2f} | {m['frame_s']:7.2f} | {m['total_s']:7.2f} | {m['rows']:9d} | "
              f"{m['dup']:8d} | {m['rows'] / m['total_s']:9,.0f} | {m['peak_mb']:7.0f} | {m['growth_mb']:9.0f} |")
    print("\ncapforecast's fetch includes chunking (4 requests of <= 11,000 points, 4 in flight), merging and the "
          "series-frame validation (frames.validate); prometheus-api-client asks for gzip (requests' default) and "
          "its chunked rows include duplicated chunk-boundary samples.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
