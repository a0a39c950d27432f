"""The ``keda`` emitter: the whole day's plan of a pool as one KEDA ``ScaledObject`` with ``cron`` triggers.

A pool with ``emitters: [keda]`` gets the placeholder Deployment of the ``placeholder`` emitter (without
``spec.replicas``: KEDA's HPA owns it) and, in ``OUT/k8s/keda/``, a ``keda.sh/v1alpha1`` ScaledObject that
scales it: one ``cron`` trigger per reservation window with placeholder pods (consecutive windows with the same
replicas merged), ``start`` at the window's ``apply_at`` and ``end`` at its ``until``, both in UTC and pinned to
the date (``minute hour day-of-month month *``), ``desiredReplicas`` the window's placeholder replicas. KEDA
applies each window at its time, so one reviewed manifest carries the day.

Outside every window (and in windows of 0 placeholder pods, which get no trigger) KEDA scales the Deployment to
``minReplicaCount: 0`` after ``cooldownPeriod``. A plan with no placeholder pods at all pauses the object at 0
replicas (``autoscaling.keda.sh/paused-replicas``). Times are rounded outwards to whole minutes (cron has no
seconds): a window starts no later and ends no earlier than planned, so capacity is only ever raised.
See ``docs/keda.md``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from capforecast.emit._names import dns_name

__all__ = ["KEDA_API", "cron_at", "scaled_object", "triggers"]

KEDA_API = "keda.sh/v1alpha1"
TIMEZONE = "Etc/UTC"
_MINUTE = pd.Timedelta(minutes=1)


def cron_at(ts: pd.Timestamp, *, up: bool = False) -> str:
    """The cron expression (``minute hour day-of-month month *``) that fires once a year at ``ts`` (UTC).

    ``ts`` is rounded down to the minute, or up with ``up=True`` (for a window's end).

    Examples
    --------
    >>> cron_at(pd.Timestamp("2026-05-01 23:45", tz="UTC"))
    '45 23 1 5 *'
    >>> cron_at(pd.Timestamp("2026-12-31 23:59:30", tz="UTC"), up=True)
    '0 0 1 1 *'
    """
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
    t = t.ceil("min") if up else t.floor("min")
    return f"{t.minute} {t.hour} {t.day} {t.month} *"


def triggers(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """``cron`` triggers of one pool's reservation windows (rows of :func:`reservation_windows`, in time order).

    Examples
    --------
    >>> ts = pd.to_datetime(["2026-05-01 22:00", "2026-05-02 01:00", "2026-05-02 03:00", "2026-05-02 05:00"],
    ...                     utc=True)
    >>> w = pd.DataFrame({"apply_at": ts[:3], "until": ts[1:], "placeholder_replicas": [4, 4, 0]})
    >>> [(t["metadata"]["start"], t["metadata"]["end"], t["metadata"]["desiredReplicas"]) for t in triggers(w)]
    [('0 22 1 5 *', '0 3 2 5 *', '4')]
    """
    rows = rows.sort_values("apply_at")
    run = (rows["placeholder_replicas"] != rows["placeholder_replicas"].shift()).cumsum()
    out: list[dict[str, Any]] = []
    for _, r in rows.groupby(run, sort=True):
        replicas = int(r["placeholder_replicas"].iloc[0])
        if replicas <= 0:
            continue
        start, end = pd.Timestamp(r["apply_at"].iloc[0]), pd.Timestamp(r["until"].iloc[-1])
        out.append({
            "type": "cron",
            "name": f"w{len(out):03d}-{start:%m%dt%H%Mz}",
            "metadata": {"timezone": TIMEZONE, "start": cron_at(start), "end": cron_at(end, up=True),
                         "desiredReplicas": str(replicas)},
        })
    return out


def scaled_object(pool: Any, rows: pd.DataFrame, *, target: str) -> dict[str, Any]:
    """The ScaledObject of ``pool`` for its reservation windows ``rows``, scaling the Deployment ``target``."""
    trig = triggers(rows)
    most = math.ceil(pool.max_nodes * pool.gpus_per_node / pool.placeholder_gpus)
    most = max([most, 1] + [int(t["metadata"]["desiredReplicas"]) for t in trig])
    meta: dict[str, Any] = {"name": dns_name("capforecast", pool.name), "namespace": pool.namespace,
                            "labels": {"app.kubernetes.io/managed-by": "capforecast"}}
    if not trig:  # no placeholder pod all day: hold 0 (a ScaledObject needs a trigger; paused, it is not run)
        first, last = pd.Timestamp(rows["apply_at"].min()), pd.Timestamp(rows["until"].max())
        meta["annotations"] = {"autoscaling.keda.sh/paused-replicas": "0"}
        trig = [{"type": "cron", "name": "w000-none", "metadata": {
            "timezone": TIMEZONE, "start": cron_at(first), "end": cron_at(last, up=True), "desiredReplicas": "1"}}]
    return {
        "apiVersion": KEDA_API, "kind": "ScaledObject", "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "pollingInterval": 30,
            "cooldownPeriod": 60,
            "minReplicaCount": 0,
            "maxReplicaCount": most,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                "scaleDown": {"stabilizationWindowSeconds": 0},
            }}},
            "triggers": trig,
        },
    }
