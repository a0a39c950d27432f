"""Both notebooks run top to bottom with nbclient (kernel ``python3``) and show what they promise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def execute(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    cells: int | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run ``notebooks/<name>`` (its first ``cells`` cells) in its folder; return all text output joined."""
    from jupyter_client.kernelspec import NoSuchKernel

    # the kernel inherits this environment: the package importable from the source tree, temp files here
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("CAPFORECAST_PROMETHEUS_URL", raising=False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells = nb.cells[:cells]
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{name} is committed with outputs"
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    try:
        client.execute()
    except NoSuchKernel:  # pragma: no cover - make test installs ipykernel
        pytest.fail("no 'python3' Jupyter kernel: run `.venv/bin/python -m ipykernel install --sys-prefix`")
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out
            texts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


def test_quickstart_runs_and_ends_with_patches_and_a_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = execute("quickstart.ipynb", tmp_path, monkeypatch)
    assert "seasonal_naive" in text and "mase" in text  # the model comparison
    assert "p95" in text  # a quantile forecast, planned from the service quantile
    assert "kind: Deployment" in text and "replicas:" in text  # a patch was read back
    assert "# Capacity plan" in text  # the report
    assert list(tmp_path.rglob("k8s/kustomization.yaml"))


def test_capacity_planning_compares_plans_and_tunes_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = execute("capacity_planning.ipynb", tmp_path, monkeypatch)
    for word in ("capforecast", "static", "reactive", "oracle", "cost_ratio", "target_busy"):
        assert word in text


def test_quickstart_reads_a_real_prometheus_when_pointed_at_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from capforecast.ingest.files import read_series

    from .promserver import PrometheusServer, Series, unix_seconds

    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        pytest.skip("prometheus/promtool not installed (make test installs them)")
    sample = read_series(ROOT / "data" / "sample" / "series.csv").dropna(subset=["y"])
    series = [
        Series(
            "gpu_demand",
            {"pool": str(uid)},
            unix_seconds(g["ds"]),
            g["y"].to_numpy(float),
        )
        for uid, g in sample.groupby("unique_id")
    ]
    end = sample["ds"].max()
    with PrometheusServer.from_samples(series, tmp_path / "prom") as server:
        text = execute(
            "quickstart.ipynb",
            tmp_path,
            monkeypatch,
            cells=4,
            env={"CAPFORECAST_PROMETHEUS_URL": server.url, "CAPFORECAST_END": end.isoformat()},
        )
    assert "a100-train" in text and "h100-infer" in text
    assert "step: 0 days 01:00:00" in text
