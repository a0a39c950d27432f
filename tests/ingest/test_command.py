"""``capforecast ingest`` as a user runs it: presets, CSV and parquet output, --since, clear usage errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from capforecast.cli import main
from capforecast.ingest.files import read_series

from .conftest import START, pool_values

ROOT = Path(__file__).resolve().parents[2]


def test_query_to_csv_round_trips_through_the_series_reader(prom, tmp_path: Path, capsys) -> None:
    out = tmp_path / "gpus.csv"
    code = main(["ingest", "--url", prom.url, "--query", "gpu_used", "--id-labels", "pool",
                 "--start", "2026-05-01T00:00:00Z", "--end", str(START + 86_400), "--step", "1m", "--out", str(out)])
    assert code == 0
    assert "wrote 4323 rows of 3 series (1d at 1m)" in capsys.readouterr().out
    frame = read_series(out)
    assert frame["y"][frame["unique_id"] == "h100"].tolist() == pool_values("h100")[:1441].tolist()


def test_preset_with_since_to_parquet(prom, tmp_path: Path, capsys) -> None:
    out = tmp_path / "gpus.parquet"
    code = main(["ingest", "--url", prom.url, "--preset", "gpus_requested", "--node-label", "label_pool",
                 "--since", "1d", "--end", str(START + 86_400), "--step", "1h", "--out", str(out)])
    assert code == 0
    frame = pd.read_parquet(out)
    assert sorted(frame["unique_id"].unique()) == ["a100", "h100"]
    assert len(frame) == 25 + 19  # h100's pod is pending until 06:00: no GPUs in use, no rows


def test_usage_errors_are_one_line_with_the_fix(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-m", "capforecast.cli", "ingest", *args], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=60)

    done = run("--query", "up", "--since", "1h", "--step", "1m", "--out", "x.csv")
    assert done.returncode == 1
    assert done.stderr == "capforecast: error: --url is required (e.g. --url http://prometheus:9090), or export " \
                          "CAPFORECAST_PROMETHEUS_URL\n"
    done = run("--url", "http://127.0.0.1:9", "--preset", "gpu", "--since", "1h", "--step", "1m", "--out", "x.csv")
    assert done.returncode == 1 and "unknown metric preset 'gpu'; use one of" in done.stderr
    done = run("--list-presets")
    assert done.returncode == 0 and "kube_pod_container_resource_requests" in done.stdout
    assert not (ROOT / "x.csv").exists()


def test_ingest_never_imports_tensorflow() -> None:
    code = "import sys, capforecast.ingest.prometheus, capforecast.commands.ingest; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
