"""The keda emitter: one ScaledObject per pool with a cron trigger per window, built and validated for real."""

from __future__ import annotations

import copy

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

from capforecast.emit import reservation_windows, write_overlay
from capforecast.emit.keda import cron_at, triggers
from capforecast.errors import ConfigError
from capforecast.planning import PoolSpec, plan_capacity
from tests.emit.k8s_check import kustomize, validate

T0 = pd.Timestamp("2026-12-31 12:00", tz="UTC")  # the plan crosses midnight and the end of the year


def _pool(**kw) -> PoolSpec:
    base = dict(name="a100-train", gpus_per_node=8, min_nodes=0, max_nodes=30, lead_time="15m",
                min_window="3h", emitters=["keda"])
    return PoolSpec(**{**base, **kw})


def _forecast(hours: int = 36, name: str = "a100-train", scale: float = 60.0) -> pd.DataFrame:
    t = np.arange(hours)
    mid = scale * (1.05 + np.sin(2 * np.pi * t / 24))
    return pd.DataFrame({"unique_id": name, "ds": pd.date_range(T0, periods=hours, freq="h"), "model": "m",
                         "yhat": mid, "p95": mid * 1.3})


def _when(expr: str, after: pd.Timestamp) -> pd.Timestamp:
    """The next time after ``after`` that a date-pinned cron (``M H D Mo *``) fires, as KEDA computes it (robfig/cron's
    ``Next``, strictly later: a window is active from its start minute up to, not including, its end minute)."""
    minute, hour, day, month, _ = expr.split()
    for year in (after.year, after.year + 1):
        t = pd.Timestamp(year=year, month=int(month), day=int(day), hour=int(hour), minute=int(minute), tz="UTC")
        if t > after:
            return t
    raise AssertionError(expr)


def _replicas_at(so: dict, now: pd.Timestamp) -> int:
    """Replicas KEDA sets at ``now``: the cron scaler's rule (active between the start and the end), max over
    active triggers, minReplicaCount when none is active."""
    active = []
    for trig in so["spec"]["triggers"]:
        start, end = _when(trig["metadata"]["start"], now), _when(trig["metadata"]["end"], now)
        if not (start < end and now < start) and now <= end:
            active.append(int(trig["metadata"]["desiredReplicas"]))
    return max(active) if active else so["spec"]["minReplicaCount"]


@pytest.mark.parametrize(("ts", "up", "cron"), [
    ("2026-05-01 06:00", False, "0 6 1 5 *"),
    ("2026-05-01 23:45", False, "45 23 1 5 *"),
    ("2026-05-01 23:59:30", True, "0 0 2 5 *"),     # an end with seconds is rounded up, across midnight
    ("2026-12-31 23:59:30", True, "0 0 1 1 *"),     # and across the year
    ("2026-05-01 10:14:59", False, "14 10 1 5 *"),  # a start is rounded down: never later than planned
])
def test_times_convert_to_date_pinned_cron(ts, up, cron):
    assert cron_at(pd.Timestamp(ts, tz="UTC"), up=up) == cron


def test_scaledobject_builds_validates_and_applies_every_window_at_its_time(tmp_path):
    pool = _pool()
    plan = plan_capacity(_forecast(), [pool])
    write_overlay(plan, [pool], tmp_path)
    objs = kustomize(tmp_path / "k8s" / "keda")
    kinds = {o["kind"]: o for o in objs}
    assert [validate(o) for o in objs].count("crd") == 1 and set(kinds) == {
        "Namespace", "PriorityClass", "Deployment", "ScaledObject"}
    so, deploy = kinds["ScaledObject"], kinds["Deployment"]
    assert so["spec"]["scaleTargetRef"]["name"] == deploy["metadata"]["name"]
    assert "replicas" not in deploy["spec"]  # KEDA's HPA owns it; re-applying the base never resets it
    windows = reservation_windows(plan, [pool])
    assert 1 < len(so["spec"]["triggers"]) <= len(windows)
    for _, w in windows.iterrows():  # at the start, the middle and the last minute of each window
        for now in (w["apply_at"], w["apply_at"] + (w["until"] - w["apply_at"]) / 2,
                    w["until"] - pd.Timedelta("1min")):
            assert _replicas_at(so, pd.Timestamp(now).floor("min")) == w["placeholder_replicas"], (now, w)
    after = windows["until"].max() + pd.Timedelta("1min")
    assert _replicas_at(so, after) == 0  # outside the plan: minReplicaCount
    crossing = [t for t in so["spec"]["triggers"]
                if t["metadata"]["start"].split()[2:4] != t["metadata"]["end"].split()[2:4]]
    assert crossing  # a window crosses midnight (and here the new year) in one trigger


def test_window_overlays_leave_a_keda_pool_alone(tmp_path):
    pool = _pool()
    other = PoolSpec(name="h100", gpus_per_node=8, min_nodes=0, max_nodes=9, lead_time="15m")
    fc = pd.concat([_forecast(), _forecast(name="h100", scale=20.0)], ignore_index=True)
    plan = plan_capacity(fc, [pool, other])
    write_overlay(plan, [pool, other], tmp_path)
    first = sorted((tmp_path / "k8s" / "windows").iterdir())[0]
    patched = [o["metadata"]["name"] for o in yaml.safe_load_all((first / "patches.yaml").read_text()) if o]
    assert patched == ["capforecast-h100"]
    for obj in kustomize(first):
        validate(obj)
    assert list((tmp_path / "k8s" / "keda").iterdir())  # and the keda pool's day is in k8s/keda


def test_windows_of_no_placeholder_get_no_trigger_and_an_empty_day_pauses_at_zero(tmp_path):
    ts = pd.to_datetime(["2026-05-01 00:00", "2026-05-01 02:00", "2026-05-01 05:00", "2026-05-01 07:00"], utc=True)
    w = pd.DataFrame({"apply_at": ts[:3], "until": ts[1:], "placeholder_replicas": [3, 0, 5]})
    assert [t["metadata"]["desiredReplicas"] for t in triggers(w)] == ["3", "5"]
    pool = _pool(max_nodes=4)
    fc = _forecast(hours=6)
    fc["p95"] = fc["yhat"] = 0.0
    write_overlay(plan_capacity(fc, [pool]), [pool], tmp_path)
    so = next(o for o in kustomize(tmp_path / "k8s" / "keda") if o["kind"] == "ScaledObject")
    validate(so)
    assert so["metadata"]["annotations"] == {"autoscaling.keda.sh/paused-replicas": "0"}


def test_validation_rejects_what_keda_would(tmp_path):
    pool = _pool()
    write_overlay(plan_capacity(_forecast(), [pool]), [pool], tmp_path)
    so = next(o for o in kustomize(tmp_path / "k8s" / "keda") if o["kind"] == "ScaledObject")
    bad = []
    for edit in ("same", "number", "field", "range", "target"):
        b = copy.deepcopy(so)
        meta = b["spec"]["triggers"][0]["metadata"]
        if edit == "same":
            meta["end"] = meta["start"]
        elif edit == "number":
            meta["desiredReplicas"] = 3
        elif edit == "field":
            b["spec"]["minReplicas"] = 0
        elif edit == "range":
            meta["start"] = "61 25 1 5 *"
        else:
            del b["spec"]["scaleTargetRef"]["name"]
        bad.append(b)
    for b in bad:
        with pytest.raises((AssertionError, jsonschema.ValidationError)):
            validate(b)


def test_keda_excludes_the_other_reserving_emitters():
    for other in ("placeholder", "capacity-buffer"):
        with pytest.raises(ConfigError, match="choose one of them"):
            _pool(emitters=["keda", other])
    assert _pool(emitters=["keda", "karpenter"], karpenter={"nodepool": "gpu"}).emitters == ("keda", "karpenter")


def test_a_pool_without_min_window_gets_one_trigger_per_change_of_replicas(tmp_path):
    pool = _pool(min_window="0s")
    plan = plan_capacity(_forecast(hours=12), [pool])
    write_overlay(plan, [pool], tmp_path)
    so = next(o for o in kustomize(tmp_path / "k8s" / "keda") if o["kind"] == "ScaledObject")
    replicas = reservation_windows(plan, [pool])["placeholder_replicas"].to_numpy()
    runs = replicas[np.r_[True, replicas[1:] != replicas[:-1]]]
    assert [int(t["metadata"]["desiredReplicas"]) for t in so["spec"]["triggers"]] == [int(r) for r in runs if r > 0]
    assert len(runs) > 5  # without min_window the request changes nearly every hour
