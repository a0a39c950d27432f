"""The kustomize overlay, built with the real kubectl and validated for Kubernetes 1.32 (strict)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

import capforecast.emit.overlay as overlay_mod
from capforecast.emit import EMITTERS, reservation_windows, write_overlay
from capforecast.planning import load_pools, parse_pools, plan_capacity
from tests.emit.k8s_check import kustomize, validate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pools.yaml"
T0 = pd.Timestamp("2026-05-01", tz="UTC")


def daily_forecast(names, hours=12, scale=60.0):
    t = np.arange(hours)
    parts = []
    for k, name in enumerate(names):
        mid = scale * (1 + k * 0.3) * (1.1 + np.sin(2 * np.pi * t / 24))
        parts.append(pd.DataFrame({"unique_id": name, "ds": pd.date_range(T0, periods=hours, freq="h"),
                                   "model": "m", "yhat": mid, "p50": mid, "p80": mid * 1.2, "p95": mid * 1.4,
                                   "p99": mid * 1.6}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pools = load_pools(EXAMPLE)
    plan = plan_capacity(daily_forecast(pools.names()), pools)
    out = tmp_path_factory.mktemp("out")
    files = write_overlay(plan, pools, out)
    return pools, plan, out / "k8s", files


def test_registry_lists_every_emitter():
    assert sorted(EMITTERS) == ["capacity-buffer", "hpa", "karpenter", "keda", "placeholder"]


def _ids(objs) -> set:
    return {(o["kind"], o["metadata"]["name"]) for o in objs}


def _patches(path: Path) -> list[dict]:
    return [o for o in yaml.safe_load_all(path.read_text()) if o]


def _check_overlays(k8s: Path, every: bool) -> None:
    windows = sorted(p for p in (k8s / "windows").iterdir())
    assert len(windows) > 3  # the plan varies over the day, so there are several windows
    ours, theirs = _ids(kustomize(k8s / "base")), _ids(kustomize(k8s / "external"))
    for w in windows:  # cheap check of every window: each patch targets an object of its base
        assert _patches(w / "patches.yaml") and _ids(_patches(w / "patches.yaml")) <= ours
        assert _ids(_patches(w / "external" / "patches.yaml")) <= theirs
    chosen = windows if every else [windows[0], windows[len(windows) // 2], windows[-1]]
    kinds, external_kinds, checked = set(), set(), {"core": 0, "crd": 0}
    for overlay in [k8s, *chosen]:
        for obj in kustomize(overlay):
            checked[validate(obj)] += 1
            kinds.add(obj["kind"])
    for overlay in chosen:
        for obj in kustomize(overlay / "external"):
            checked[validate(obj)] += 1
            external_kinds.add(obj["kind"])
    # applying a window touches only capforecast's objects; the users' HPA / NodePool patches are apart
    assert kinds == {"Namespace", "PriorityClass", "Deployment", "PodTemplate", "CapacityBuffer"}
    assert external_kinds == {"HorizontalPodAutoscaler", "NodePool"}
    assert checked["crd"] >= 2 * len(chosen) + 1


def test_overlay_builds_offline_and_every_object_validates(built):
    _, _, k8s, files = built
    assert all(f.is_file() for f in files)
    _check_overlays(k8s, every=False)


@pytest.mark.slow
def test_every_window_overlay_builds_and_validates(built):
    _check_overlays(built[2], every=True)


def test_validation_really_rejects_bad_objects(built):
    _, _, k8s, _ = built
    objs = {o["kind"]: o for o in kustomize(k8s) + kustomize(k8s / "external")}
    bad = copy.deepcopy(objs["Deployment"])
    bad["spec"]["replicaz"] = 3
    with pytest.raises(Exception, match="replicaz"):
        validate(bad)
    bad = copy.deepcopy(objs["CapacityBuffer"])
    bad["spec"]["replicas"] = -1
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
    bad = copy.deepcopy(objs["NodePool"])
    bad["metadata"]["name"] = "Not_DNS"
    with pytest.raises(Exception, match="Not_DNS"):
        validate(bad)


def test_patches_follow_the_plan_and_requests_go_out_lead_time_early(built):
    pools, plan, k8s, _ = built
    schedule = yaml.safe_load((k8s / "schedule.yaml").read_text())
    wins = reservation_windows(plan, pools)
    assert len(schedule["windows"]) == wins["window"].nunique()
    train = pools.get("a100-train")
    p = plan[plan["unique_id"] == "a100-train"].reset_index(drop=True)
    first_up = int(np.flatnonzero(np.diff(p["nodes"].to_numpy()) > 0)[0]) + 1
    due = p["ds"].iloc[first_up] - train.lead_time  # 15 minutes before the step that needs more nodes
    entry = next(w for w in schedule["windows"] if pd.Timestamp(w["apply_at"]) == due)
    assert entry["pools"]["a100-train"]["nodes"] == p["nodes"].iloc[first_up]
    # one window's rendered objects carry exactly the scheduled numbers
    w = schedule["windows"][2]
    objs = kustomize(k8s / w["overlay"]) + kustomize(k8s / w["external_patches"])
    by = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    infer, batch = w["pools"]["h100-infer"], w["pools"]["a100-batch"]
    assert by[("Deployment", "capforecast-a100-train")]["spec"]["replicas"] == w["pools"]["a100-train"][
        "placeholder_replicas"]
    assert by[("CapacityBuffer", "capforecast-h100-infer")]["spec"]["replicas"] == infer["placeholder_replicas"]
    assert by[("HorizontalPodAutoscaler", "llm-server")]["spec"]["minReplicas"] == infer["gpus"]
    assert by[("NodePool", "gpu-a100-batch")]["spec"]["limits"]["nvidia.com/gpu"] == batch["gpus"]
    # placeholders hold the planned capacity above the expected use
    row = wins[(wins["window"] == 2) & (wins["unique_id"] == "a100-train")].iloc[0]
    assert row["placeholder_replicas"] == math.ceil(row["spare_gpus"] / train.placeholder_gpus)
    pod = by[("Deployment", "capforecast-a100-train")]["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "capforecast-placeholder"
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert by[("PriorityClass", "capforecast-placeholder")]["value"] < 0


def test_names_from_prometheus_labels_are_sanitised_and_distinct(tmp_path):
    raw = ["GPU Pool/A100", "gpu-pool-a100", "vc_Jkd.2020"]
    pools = parse_pools({"pools": [{"name": n, "gpus_per_node": 8, "min_nodes": 0, "max_nodes": 4,
                                    "lead_time": "10m"} for n in raw]})
    plan = plan_capacity(daily_forecast(raw, hours=3, scale=10), pools)
    write_overlay(plan, pools, tmp_path)
    deps = [o for o in kustomize(tmp_path / "k8s") if o["kind"] == "Deployment"]
    names = [d["metadata"]["name"] for d in deps]
    assert len(set(names)) == 3 and "capforecast-gpu-pool-a100" in names
    for d in deps:
        validate(d)
        assert len(d["metadata"]["name"]) <= 52
    labels = {d["metadata"]["labels"]["capforecast.io/pool"] for d in deps}
    assert "vc_Jkd.2020" in labels and len(labels) == 3


def test_a_failure_leaves_the_previous_overlay_exactly_as_it_was(tmp_path, monkeypatch):
    pools = load_pools(EXAMPLE)
    plan = plan_capacity(daily_forecast(pools.names(), hours=4), pools)
    write_overlay(plan, pools, tmp_path)
    before = {p: p.read_bytes() for p in (tmp_path / "k8s").rglob("*") if p.is_file()}

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(overlay_mod.kube, "patch_objects", boom)
    with pytest.raises(RuntimeError):
        write_overlay(plan.assign(nodes=plan["nodes"] + 1), pools, tmp_path)
    after = {p: p.read_bytes() for p in (tmp_path / "k8s").rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["k8s"]  # no temporary directory left behind


def test_aligned_lead_times_give_fewer_windows_and_still_request_early_enough():
    pools = load_pools(EXAMPLE)  # lead times 15m, 10m and 5m
    plan = plan_capacity(daily_forecast(pools.names(), hours=24), pools)
    own = reservation_windows(plan, pools, align=False)
    aligned = reservation_windows(plan, pools)
    assert aligned["window"].nunique() < own["window"].nunique()
    for wins, lead_of in [(own, lambda p: p.lead_time), (aligned, lambda p: pd.Timedelta(minutes=15))]:
        for pool in pools:
            steps = plan[plan["unique_id"] == pool.name]
            w = wins[wins["unique_id"] == pool.name]
            for ds, nodes in zip(steps["ds"], steps["nodes"], strict=True):
                # whatever window is in force from ds - lead to ds + step asks for at least the step's nodes
                live = w[(w["apply_at"] < ds + pd.Timedelta(hours=1)) & (w["until"] > ds - lead_of(pool))]
                assert (live["nodes"] >= nodes).all(), (pool.name, ds)


def test_a_pool_with_only_external_emitters_still_builds(tmp_path):
    pools = parse_pools({"pools": [{"name": "llm", "gpus_per_node": 8, "min_nodes": 1, "max_nodes": 4,
                                    "lead_time": "10m", "emitters": ["hpa"], "hpa": {"name": "llm-server"}}]})
    plan = plan_capacity(daily_forecast(["llm"], hours=4, scale=10), pools)
    write_overlay(plan, pools, tmp_path)
    assert kustomize(tmp_path / "k8s") == []  # nothing of ours to apply
    first = sorted((tmp_path / "k8s" / "windows").iterdir())[0]
    (hpa,) = kustomize(first / "external")
    validate(hpa)
    assert hpa["spec"]["minReplicas"] == plan["gpus"].iloc[0]
