"""Zero-error backtests are wins: a constant pool and an exactly periodic pool through the nightly job and auto.

With demand constant, MASE was 0/0: every candidate was dropped and the job fell back (exit 3) every night; on
exactly periodic demand the perfect model was dropped and ``naive`` (MASE inf) became champion.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from capforecast.config import load_config
from capforecast.models.auto import AutoForecaster
from capforecast.pipeline import run_nightly

from .promserver import INSTALL_HINT, PrometheusServer, Series, unix_seconds

START = pd.Timestamp("2026-05-01", tz="UTC")
END = pd.Timestamp("2026-05-22T00:00", tz="UTC")
NOW = pd.Timestamp("2026-05-21T01:30", tz="UTC")
DAILY = np.array([10, 10, 10, 10, 10, 12, 20, 35, 50, 60, 64, 66, 66, 64, 60, 55, 48, 40, 32, 25, 18, 14, 12, 11.0])

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None, reason=INSTALL_HINT
)


def flat_frame() -> pd.DataFrame:
    """``flat``: 12 GPUs every hour; ``periodic``: the same daily shape every day, to the GPU."""
    ds = pd.date_range(START, END, freq="h")
    periodic = DAILY[ds.hour.to_numpy()]
    return pd.concat([pd.DataFrame({"unique_id": "flat", "ds": ds, "y": 12.0}),
                      pd.DataFrame({"unique_id": "periodic", "ds": ds, "y": periodic})], ignore_index=True)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory):
    frame = flat_frame()
    series = [Series("gpu_demand", {"pool": str(uid)},
                     unix_seconds(g["ds"]),
                     g["y"].to_numpy()) for uid, g in frame.groupby("unique_id")]
    with PrometheusServer.from_samples(series, tmp_path_factory.mktemp("prom")) as server:
        yield server


def config(tmp: Path, url: str) -> Path:
    cfg = {
        "prometheus": {"url": url, "timeout": "10s", "retries": 0},
        "series": {"step": "1h", "history": "14d", "query": "sum by (pool) (gpu_demand)", "id_labels": ["pool"]},
        "pools": [{"name": n, "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 20, "lead_time": "15m"}
                  for n in ("flat", "periodic")],
        "models": {"candidates": ["naive", "seasonal_naive", "seasonal_quantile"], "fallback": "naive"},
        "backtest": {"windows": 2, "horizon": "24h", "step": "24h"},
        "forecast": {"horizon": "24h", "quantiles": [0.5, 0.9]},
        "output": {"dir": "state", "keep_runs": 5},
    }
    path = tmp / "nightly.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def test_nightly_takes_a_perfect_backtest_as_a_win(prom: PrometheusServer, tmp_path: Path) -> None:
    cfg = load_config(config(tmp_path, prom.url))
    first = run_nightly(cfg, now=NOW)
    assert first.status == "success" and first.exit_code == 0, first.notes
    for pool in ("flat", "periodic"):
        champ = first.champions[pool]
        assert not champ["fallback"] and champ["score"] == 0.0, champ
        assert champ["model"] != "naive" or pool == "flat", champ
    assert not any("could not be backtested" in n for n in first.notes)
    forecast = pd.read_csv(cfg.output.latest / "forecast.csv", parse_dates=["ds"])
    periodic = forecast[forecast["unique_id"] == "periodic"]
    assert np.allclose(periodic["yhat"], DAILY[periodic["ds"].dt.hour.to_numpy()])
    # the next night: every candidate ties at 0 with the champion, which stays (no flapping, no fallback)
    second = run_nightly(cfg, now=NOW + pd.Timedelta(days=1))
    assert second.exit_code == 0
    assert {p: c["model"] for p, c in second.champions.items()} == {p: c["model"] for p, c in first.champions.items()}


@pytest.mark.parametrize("uid", ["flat", "periodic"])
def test_auto_keeps_a_perfect_model_and_says_its_score(uid: str) -> None:
    frame = flat_frame()
    frame = frame[frame["unique_id"] == uid].reset_index(drop=True)
    auto = AutoForecaster(n_windows=3).fit(frame)
    report = auto.report().iloc[0]
    assert report["mase"] == 0.0 and report["choice"] != "naive", report.to_dict()
    assert "n/a" not in report["reason"]
    fc = auto.predict(24, quantiles=[0.5, 0.9])
    expected = 12.0 if uid == "flat" else DAILY[fc["ds"].dt.hour.to_numpy()]
    assert np.allclose(fc["yhat"], expected) and np.allclose(fc["p90"], expected)
