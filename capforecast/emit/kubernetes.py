"""Kubernetes objects per emitter: the base manifests of a pool and its patches for one reservation window.

Each pool's ``emitters`` choose which objects it gets (the registry :data:`EMITTER_FUNCS`, re-exported as
``capforecast.emit.EMITTERS``): ``placeholder`` (overprovisioning Deployment of pause pods under a negative
PriorityClass), ``capacity-buffer`` (PodTemplate + ``autoscaling.x-k8s.io`` CapacityBuffer), ``hpa``
(``minReplicas`` of your HPA), ``karpenter`` (``spec.limits`` of your NodePool) and ``keda`` (the placeholder
Deployment, scaled by the day's KEDA ScaledObject of :mod:`capforecast.emit.keda` instead of window patches).
``hpa`` and ``karpenter`` patch objects the user owns ("external"). :mod:`capforecast.emit.overlay` writes
them to files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from capforecast.emit._names import dns_name, label_value
from capforecast.planning.pools import PoolSpec

__all__ = ["EMITTER_FUNCS", "PAUSE_IMAGE", "PRIORITY_CLASS", "Objects", "base_objects", "patch_objects",
           "placeholder_name"]

PRIORITY_CLASS = "capforecast-placeholder"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
_MANAGED = {"app.kubernetes.io/managed-by": "capforecast"}
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


def _keda_base(pool: PoolSpec) -> Objects:
    """The placeholder Deployment without ``spec.replicas``: KEDA's HPA sets it, an apply must not reset it."""
    objs = _placeholder_base(pool)
    del objs[0]["spec"]["replicas"]
    return objs


def _no_patch(pool: PoolSpec, w: pd.Series) -> Objects:
    return []


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
    "keda": (_keda_base, _no_patch, False),
}


def base_objects(pools: Sequence[PoolSpec]) -> tuple[Objects, Objects]:
    """The base manifests: ``(ours, external stand-ins)`` for every pool and its emitters."""
    namespaces = sorted({p.namespace for p in pools
                         if {"placeholder", "capacity-buffer", "keda"} & set(p.emitters)})
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
