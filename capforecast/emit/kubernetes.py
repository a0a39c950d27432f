"""The kustomize overlay: base manifests, one overlay per reservation window, and the schedule that says when.

Layout written under ``OUT/k8s/`` (``kubectl kustomize OUT/k8s`` builds the window in force first)::

    kustomization.yaml            -> windows/<first window>   (what to apply now)
    schedule.yaml                 when each window applies, and its nodes/replicas/reasons per pool
    base/                         Namespace, PriorityClass, per pool: placeholder Deployment or PodTemplate +
                                  CapacityBuffer (capforecast's own objects)
    windows/wNNN-<time>/          kustomization.yaml (resources: ../../base) + patches.yaml
    windows/wNNN-<time>/external/ patches for objects you own (HPA minReplicas, NodePool limits), built over
    external/                     stand-ins of those objects, so that they build offline (never applied)

Applying a window (``kubectl apply -k windows/wNNN-...``) touches only capforecast's objects; the patches of
your HPAs and NodePools are kept apart so that a stand-in can never overwrite the real object.

Each pool's ``emitters`` choose which objects it gets (see :data:`capforecast.emit.EMITTERS`). Nothing is
applied to a cluster: these are files for review (``kubectl diff -k``) and for a GitOps tool or a person.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast._io import atomic_dir
from capforecast.emit._names import dns_name, label_value
from capforecast.emit.schedule import reservation_windows
from capforecast.errors import PlanningError
from capforecast.planning.pools import PoolSpec

__all__ = ["PAUSE_IMAGE", "PRIORITY_CLASS", "base_objects", "patch_objects", "write_overlay"]

PRIORITY_CLASS = "capforecast-placeholder"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
_MANAGED = {"app.kubernetes.io/managed-by": "capforecast"}
_EXTERNAL_NOTE = (
    "# Stand-in for your {kind}, only so that windows/*/external builds offline: never apply it.\n"
    "# The window patches change only {field} of your real object (same name and namespace).\n"
)

_EXTERNAL_PATCH_NOTE = (
    "# Patches for objects you own (HPAs, Karpenter NodePools) for this window. They are kept out of the overlay\n"
    "# one level up, so applying it never touches your objects. Use them from your own kustomization, or apply\n"
    "# this folder after pointing its kustomization's resources at your manifests.\n"
)

Objects = list[dict[str, Any]]


def _labels(pool: PoolSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": "capforecast-placeholder", "capforecast.io/pool": label_value(pool.name)}


def _pod_spec(pool: PoolSpec) -> dict[str, Any]:
    gpu = {pool.gpu_resource: pool.placeholder_gpus}
    spec: dict[str, Any] = {
        "priorityClassName": PRIORITY_CLASS,
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "containers": [{
            "name": "pause",
            "image": PAUSE_IMAGE,
            "resources": {"requests": {**gpu, "cpu": "10m", "memory": "16Mi"}, "limits": {**gpu, "memory": "16Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 65535},
        }],
    }
    if pool.node_selector:
        spec["nodeSelector"] = dict(pool.node_selector)
    if pool.tolerations:
        spec["tolerations"] = [dict(t) for t in pool.tolerations]
    return spec


def placeholder_name(pool: PoolSpec) -> str:
    """Name of the pool's placeholder Deployment (and PodTemplate / CapacityBuffer)."""
    return dns_name("capforecast", pool.name)


# ----------------------------------------------------------------------------------- per-emitter objects


def _placeholder_base(pool: PoolSpec) -> Objects:
    labels = _labels(pool)
    return [{
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": placeholder_name(pool), "namespace": pool.namespace, "labels": {**labels, **_MANAGED}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": _pod_spec(pool)},
        },
    }]


def _placeholder_patch(pool: PoolSpec, w: pd.Series) -> Objects:
    return [{"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": placeholder_name(pool), "namespace": pool.namespace},
             "spec": {"replicas": int(w["placeholder_replicas"])}}]


def _buffer_base(pool: PoolSpec) -> Objects:
    labels = _labels(pool)
    name = placeholder_name(pool)
    meta = {"name": name, "namespace": pool.namespace, "labels": {**labels, **_MANAGED}}
    return [
        {"apiVersion": "v1", "kind": "PodTemplate", "metadata": meta,
         "template": {"metadata": {"labels": labels}, "spec": _pod_spec(pool)}},
        {"apiVersion": "autoscaling.x-k8s.io/v1alpha1", "kind": "CapacityBuffer", "metadata": dict(meta),
         "spec": {"provisioningStrategy": "buffer.x-k8s.io/active-capacity",
                  "podTemplateRef": {"name": name}, "replicas": 0}},
    ]


def _buffer_patch(pool: PoolSpec, w: pd.Series) -> Objects:
    return [{"apiVersion": "autoscaling.x-k8s.io/v1alpha1", "kind": "CapacityBuffer",
             "metadata": {"name": placeholder_name(pool), "namespace": pool.namespace},
             "spec": {"replicas": int(w["placeholder_replicas"])}}]


def _hpa_max(pool: PoolSpec) -> int:
    return max(1, pool.max_nodes * pool.gpus_per_node // int(pool.hpa["gpus_per_replica"]))


def _hpa_base(pool: PoolSpec) -> Objects:
    h = pool.hpa
    return [{
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": h["name"], "namespace": h["namespace"]},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": h["target"]},
            "minReplicas": 1, "maxReplicas": _hpa_max(pool),
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}],
        },
    }]


def _hpa_patch(pool: PoolSpec, w: pd.Series) -> Objects:
    h = pool.hpa
    return [{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
             "metadata": {"name": h["name"], "namespace": h["namespace"]},
             "spec": {"minReplicas": max(1, min(int(w["hpa_min_replicas"]), _hpa_max(pool)))}}]


def _karpenter_base(pool: PoolSpec) -> Objects:
    k = pool.karpenter
    template: dict[str, Any] = {
        "spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": k["nodeclass"]},
            "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]}],
            "taints": [{"key": pool.gpu_resource, "effect": "NoSchedule"}],
        }
    }
    if pool.node_selector:
        template["metadata"] = {"labels": dict(pool.node_selector)}
    return [{"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": k["nodepool"]},
             "spec": {"template": template, "limits": {pool.gpu_resource: pool.max_nodes * pool.gpus_per_node}}}]


def _karpenter_patch(pool: PoolSpec, w: pd.Series) -> Objects:
    return [{"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": pool.karpenter["nodepool"]},
             "spec": {"limits": {pool.gpu_resource: int(w["gpus"])}}}]


#: name -> (base objects of a pool, patch objects of a pool for one window, base objects are external)
EMITTER_FUNCS: dict[str, tuple[Callable[[PoolSpec], Objects], Callable[[PoolSpec, pd.Series], Objects], bool]] = {
    "placeholder": (_placeholder_base, _placeholder_patch, False),
    "capacity-buffer": (_buffer_base, _buffer_patch, False),
    "hpa": (_hpa_base, _hpa_patch, True),
    "karpenter": (_karpenter_base, _karpenter_patch, True),
}


def base_objects(pools: Sequence[PoolSpec]) -> tuple[Objects, Objects]:
    """The base manifests: ``(ours, external stand-ins)`` for every pool and its emitters."""
    namespaces = sorted({p.namespace for p in pools
                         if {"placeholder", "capacity-buffer"} & set(p.emitters)})
    ours: Objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": dict(_MANAGED)}}
                     for ns in namespaces]
    if namespaces:
        ours.append({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": PRIORITY_CLASS, "labels": dict(_MANAGED)},
            "value": -10, "globalDefault": False, "preemptionPolicy": "Never",
            "description": "capforecast placeholder pods: hold planned spare GPU capacity; any real pod preempts them.",
        })
    external: Objects = []
    for pool in pools:
        for name in pool.emitters:
            make_base, _, is_external = EMITTER_FUNCS[name]
            (external if is_external else ours).extend(make_base(pool))
    return ours, external


def patch_objects(pools: Sequence[PoolSpec], window: pd.DataFrame) -> tuple[Objects, Objects]:
    """The patches of one window (rows of :func:`reservation_windows` with the same ``window``):
    ``(patches of our objects, patches of your external HPAs / NodePools)``."""
    ours: Objects = []
    external: Objects = []
    by_name = {str(r["unique_id"]): r for _, r in window.iterrows()}
    for pool in pools:
        if pool.name in by_name:
            for name in pool.emitters:
                _, make_patch, is_external = EMITTER_FUNCS[name]
                (external if is_external else ours).extend(make_patch(pool, by_name[pool.name]))
    return ours, external


# ------------------------------------------------------------------------------------------------ files


def _dump(objs: Iterable[dict[str, Any]], header: str = "") -> str:
    import yaml

    return header + "---\n".join(yaml.safe_dump(o, sort_keys=False, default_flow_style=False) for o in objs)


def _kustomization(resources: list[str], patches: list[str] | None = None) -> str:
    import yaml

    doc: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                           "resources": resources}
    if patches:
        doc["patches"] = [{"path": p} for p in patches]
    return yaml.safe_dump(doc, sort_keys=False)


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _schedule_doc(windows: pd.DataFrame, dirs: dict[int, str], external: bool) -> dict[str, Any]:
    items = []
    for w, rows in windows.groupby("window", sort=True):
        first = rows.iloc[0]
        items.append({
            "name": dirs[int(w)].split("/")[-1], "apply_at": _iso(first["apply_at"]), "until": _iso(first["until"]),
            "overlay": dirs[int(w)],
            **({"external_patches": f"{dirs[int(w)]}/external"} if external else {}),
            "pools": {str(r["unique_id"]): {
                "nodes": int(r["nodes"]), "gpus": int(r["gpus"]), "spare_gpus": int(r["spare_gpus"]),
                "placeholder_replicas": int(r["placeholder_replicas"]), "reason": str(r["reason"]),
            } for _, r in rows.iterrows()},
        })
    return {
        "about": ("Apply each overlay at its apply_at (kubectl apply -k k8s/<overlay>), in order; a window stays "
                  "in force until the next one. apply_at already includes each pool's lead_time."),
        "windows": items,
    }


def write_overlay(
    plan: pd.DataFrame, pools: Sequence[PoolSpec], out_dir: str | os.PathLike[str], *, align: bool = True
) -> list[Path]:
    """Write the kustomize overlay for ``plan`` into ``out_dir/k8s`` and return the files written.

    ``align``: see :func:`~capforecast.emit.schedule.reservation_windows` (one lead time for all pools).

    The directory is built beside the target and swapped in whole: on any error an existing ``k8s/`` is left
    exactly as it was.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> from capforecast.planning import PoolSpec
    >>> pool = PoolSpec(name="a100-train", gpus_per_node=8, min_nodes=0, max_nodes=4, lead_time="10m")
    >>> plan = pd.DataFrame({"unique_id": "a100-train", "ds": pd.date_range("2026-05-01", periods=2, freq="h",
    ...                      tz="UTC"), "nodes": [1, 2], "gpus": [8, 16], "reason": ["a", "b"]})
    >>> files = write_overlay(plan, [pool], tempfile.mkdtemp())
    >>> files[-1].name, files[-1].parent.name
    ('kustomization.yaml', 'k8s')
    """
    import yaml

    missing = [c for c in ("unique_id", "ds", "nodes", "gpus", "reason") if c not in plan.columns]
    if missing:
        raise PlanningError(f"plan is missing column(s) {missing}; pass the frame returned by plan_capacity")
    pools = [p for p in pools if p.name in set(plan["unique_id"].astype(str))]
    windows = reservation_windows(plan, pools, align=align)
    ours, external = base_objects(pools)
    target = Path(out_dir) / "k8s"
    written: list[Path] = []
    with atomic_dir(target) as tmp:
        def put(rel: str, text: str) -> None:
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(target / rel)

        resources = []
        for obj in ours:
            rel = f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
            put(f"base/{rel}", _dump([obj]))
            resources.append(rel)
        put("base/kustomization.yaml", _kustomization(resources))
        stand_ins = []
        for obj in external:
            kind = obj["kind"]
            field = "spec.minReplicas" if kind == "HorizontalPodAutoscaler" else "spec.limits"
            rel = f"{kind.lower()}-{obj['metadata']['name']}.yaml"
            put(f"external/{rel}", _dump([obj], _EXTERNAL_NOTE.format(kind=kind, field=field)))
            stand_ins.append(rel)
        if stand_ins:
            put("external/kustomization.yaml", _kustomization(stand_ins))
        dirs = {}
        for w, rows in windows.groupby("window", sort=True):
            name = f"w{int(w):03d}-{pd.Timestamp(rows['apply_at'].iloc[0]):%Y%m%dt%H%Mz}"
            dirs[int(w)] = f"windows/{name}"
            mine, theirs = patch_objects(pools, rows)
            if mine:
                put(f"windows/{name}/patches.yaml", _dump(mine))
            put(f"windows/{name}/kustomization.yaml", _kustomization(["../../base"], ["patches.yaml"] if mine else []))
            if theirs:
                put(f"windows/{name}/external/patches.yaml", _dump(theirs, _EXTERNAL_PATCH_NOTE))
                put(f"windows/{name}/external/kustomization.yaml",
                    _kustomization(["../../../external"], ["patches.yaml"]))
        put("schedule.yaml", yaml.safe_dump(_schedule_doc(windows, dirs, bool(stand_ins)), sort_keys=False,
                                            width=200))
        put("kustomization.yaml", _kustomization([dirs[0]]))
    return written
