"""The fan-out on a real Dask cluster (a 2-worker ``LocalCluster``) gives exactly what the in-process run gives:
the backtest's tables, and the nightly job's plan and forecast files byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from capforecast.compute import Compute, engine, fan_out
from capforecast.config import load_config
from capforecast.errors import ConfigError
from capforecast.evaluation import backtest as bt
from capforecast.ingest.sample import make_sample
from capforecast.models import get_model
from capforecast.pipeline import run_nightly

from .promserver import INSTALL_HINT, PrometheusServer, Series, unix_seconds

distributed = pytest.importorskip("distributed", reason="pip install 'capforecast[dask]' for the dask backend")

POOLS = [f"pool-{i}" for i in range(7)]
NOW = pd.Timestamp("2026-03-22T01:30", tz="UTC")


@pytest.fixture(scope="module")
def cluster():
    """Two in-process workers (threads, one each): a real scheduler and workers, started in about a second."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
                                  silence_logs=False) as c:
        yield c


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_sample(21, pools=POOLS)[["unique_id", "ds", "y"]]


def test_fan_out_keeps_the_order_on_every_backend(cluster) -> None:
    items = list(range(-20, 20))
    for compute in (Compute(), Compute("threading", workers=2), Compute("dask", cluster.scheduler_address)):
        with engine(compute):
            assert fan_out(abs, items) == [abs(i) for i in items]


def test_backtest_on_dask_is_the_in_process_backtest(cluster, frame, monkeypatch) -> None:
    monkeypatch.setattr(bt, "SERIES_PER_TASK", 3)  # 7 series: three tasks per per-series model and window
    models = {"seasonal_naive": "seasonal_naive", "seasonal_quantile": "seasonal_quantile",
              "gbm": get_model("gbm", horizon=24, max_iter=5, max_rows=2000, quantiles=(0.5, 0.9))}
    runs = {}
    for name, compute in (("in-process", None), ("threading", Compute("threading", workers=2)),
                          ("dask", Compute("dask", cluster.scheduler_address))):
        with engine(compute):
            runs[name] = bt.cross_validation(frame, models, h=24, n_windows=2, progress=False)
    base = runs.pop("in-process")
    assert set(base.scores["model"]) == set(models) and base.scores["unique_id"].nunique() == len(POOLS)
    for other in runs.values():
        pd.testing.assert_frame_equal(other.forecasts, base.forecasts, check_exact=True)
        pd.testing.assert_frame_equal(other.scores, base.scores, check_exact=True)


@pytest.fixture(scope="module")
def prom(tmp_path_factory, frame):
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        pytest.skip(INSTALL_HINT)
    series = [Series("gpu_demand", {"pool": str(p)}, unix_seconds(g["ds"]), g["y"].to_numpy())
              for p, g in frame.groupby("unique_id")]
    with PrometheusServer.from_samples(series, tmp_path_factory.mktemp("prom")) as server:
        yield server


def _config(folder: Path, url: str) -> Path:
    folder.mkdir()
    cfg = {
        "prometheus": {"url": url, "timeout": "10s", "retries": 0},
        "series": {"step": "1h", "history": "14d", "query": "gpu_demand", "id_labels": ["pool"]},
        "pools": [{"name": p, "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 40, "lead_time": "15m"}
                  for p in POOLS],
        "models": {"candidates": ["seasonal_naive", "seasonal_quantile", "gbm"],
                   "params": {"gbm": {"horizon": 24, "max_iter": 5, "max_rows": 2000, "quantiles": [0.5, 0.9]}}},
        "backtest": {"windows": 2, "horizon": "24h", "step": "24h"},
        "forecast": {"horizon": "24h", "quantiles": [0.5, 0.9]},
        "output": {"dir": "state"},
    }
    path = folder / "nightly.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def test_nightly_on_a_dask_cluster_writes_the_same_plan_and_forecast(cluster, prom, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(bt, "SERIES_PER_TASK", 3)
    outputs = {}
    for name, compute in (("in-process", None), ("dask", Compute("dask", cluster.scheduler_address))):
        cfg = load_config(_config(tmp_path / name, prom.url))
        result = run_nightly(cfg, now=NOW, compute=compute)
        assert result.status == "success", result.notes
        outputs[name] = result
    base, dask = (outputs[k].run_dir for k in ("in-process", "dask"))
    assert outputs["dask"].champions == outputs["in-process"].champions
    assert set(outputs["dask"].champions) == set(POOLS)
    for file in ("forecast.csv", "plan.csv", "scores.csv", "plan.json"):
        assert (dask / file).read_bytes() == (base / file).read_bytes(), file


def test_compute_in_the_config_and_its_errors(tmp_path) -> None:
    path = _config(tmp_path / "c", "http://127.0.0.1:9")
    data = yaml.safe_load(path.read_text())
    data["compute"] = {"backend": "dask", "address": "tcp://dask-scheduler:8786"}
    path.write_text(yaml.safe_dump(data))
    assert load_config(path).compute == Compute("dask", "tcp://dask-scheduler:8786")
    for bad, said in (({"backend": "spark"}, "is not one of sequential"),
                      ({"backend": "loky", "address": "tcp://x:8786"}, "needs the dask backend"),
                      ({"backend": "dask", "workers": 0}, "compute.workers"),
                      ({"backend": "dask", "nodes": 3}, "compute.nodes: unknown key")):
        data["compute"] = bad
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(ConfigError, match=said):
            load_config(path)


def test_cli_backend_flags_over_the_config(tmp_path, capsys) -> None:
    from capforecast.cli import main

    path = _config(tmp_path / "c", "http://127.0.0.1:9")
    assert main(["nightly", "--config", str(path), "--check", "--scheduler", "tcp://10.0.0.5:8786"]) == 0
    assert "compute     dask at tcp://10.0.0.5:8786" in capsys.readouterr().out
    assert main(["nightly", "--config", str(path), "--check", "--backend", "loky", "--workers", "2"]) == 0
    assert "compute     loky, 2 workers" in capsys.readouterr().out


@pytest.mark.slow
def test_dask_without_an_address_starts_a_local_cluster_and_closes_it() -> None:
    with engine(Compute("dask", workers=2)):
        from distributed import get_client

        client = get_client()
        assert len(client.scheduler_info()["workers"]) == 2
        assert fan_out(abs, [-3, 2, -1]) == [3, 2, 1]
    assert client.status == "closed"


def test_backtest_n_jobs_runs_on_local_processes_with_the_same_result(frame) -> None:
    one = bt.cross_validation(frame, ["naive", "seasonal_naive"], h=24, n_windows=2, progress=False, n_jobs=1)
    every = bt.cross_validation(frame, ["naive", "seasonal_naive"], h=24, n_windows=2, progress=False, n_jobs=-1)
    pd.testing.assert_frame_equal(every.scores, one.scores, check_exact=True)
