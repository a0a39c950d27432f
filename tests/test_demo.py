"""`capforecast demo` end to end, as `make demo` runs it: every output exists, builds and validates."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from capforecast import frames
from capforecast.cli import main
from tests.emit.k8s_check import kustomize, validate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    import os

    cwd = os.getcwd()
    os.chdir(ROOT)  # the demo reads data/sample/ relative to the project, as `make demo` runs it
    try:
        assert main(["demo", "--out", str(out)]) == 0
    finally:
        os.chdir(cwd)
    return out


def test_demo_writes_every_output(demo_out, capsys):
    for name in ("forecast.csv", "plan.csv", "report.md", "k8s/kustomization.yaml", "k8s/schedule.yaml"):
        assert (demo_out / name).is_file(), name
    pngs = sorted(p.name for p in (demo_out / "report").glob("*.png"))
    assert pngs == ["a100-train.png", "h100-infer.png"]
    report = (demo_out / "report.md").read_text()
    assert "a100-train" in report and "h100-infer" in report and "report/a100-train.png" in report


def test_demo_forecast_and_plan_follow_their_contracts(demo_out):
    fc = pd.read_csv(demo_out / "forecast.csv")
    fc["ds"] = pd.to_datetime(fc["ds"], utc=True)
    fc["unique_id"] = fc["unique_id"].astype(str)
    frames.validate_forecast(fc)
    assert {"p95", "p99"} <= set(fc.columns)  # each pool's service quantile was requested
    plan = pd.read_csv(demo_out / "plan.csv")
    assert {"unique_id", "ds", "nodes", "gpus", "reason"} <= set(plan.columns)
    assert (plan["gpus"] == plan["nodes"] * 8).all()
    assert plan["reason"].str.len().gt(0).all()


def test_demo_plan_changes_over_the_day(demo_out):
    plan = pd.read_csv(demo_out / "plan.csv")
    for pool, rows in plan.groupby("unique_id"):
        first_day = rows["nodes"].iloc[:24]
        assert first_day.nunique() > 2, f"{pool}: the plan is (nearly) constant over the day"


def test_demo_overlay_builds_and_every_object_validates(demo_out):
    k8s = demo_out / "k8s"
    objects = kustomize(k8s)
    schedule = yaml.safe_load((k8s / "schedule.yaml").read_text())
    windows = schedule["windows"]
    assert len(windows) > 2
    for window in (windows[0], windows[len(windows) // 2], windows[-1]):
        objects += kustomize(k8s / window["overlay"])
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "PriorityClass"} <= kinds
    for obj in objects:
        validate(obj)
    replicas = {o["metadata"]["name"]: o["spec"]["replicas"] for o in objects if o["kind"] == "Deployment"}
    assert replicas and all(isinstance(v, int) and v >= 0 for v in replicas.values())
