"""Write the kustomize overlay: base manifests, one overlay per reservation window, and the schedule.

Layout written under ``OUT/k8s/`` (``kubectl kustomize OUT/k8s`` builds the window in force first)::

    kustomization.yaml            -> windows/<first window>   (what to apply now)
    schedule.yaml                 when each window applies, and its nodes/replicas/reasons per pool
    base/                         Namespace, PriorityClass, per pool: placeholder Deployment or PodTemplate +
                                  CapacityBuffer (capforecast's own objects)
    windows/wNNN-<time>/          kustomization.yaml (resources: ../../base) + patches.yaml
    windows/wNNN-<time>/external/ patches for objects you own (HPA minReplicas, NodePool limits), built over
    external/                     stand-ins of those objects, so that they build offline (never applied)
    keda/                         pools with the keda emitter: kustomization (resources: ../base) + one
                                  ScaledObject per pool carrying the whole plan (``kubectl apply -k k8s/keda``)

Applying a window (``kubectl apply -k windows/wNNN-...``) touches only capforecast's objects; the patches of
your HPAs and NodePools are kept apart so that a stand-in can never overwrite the real object.

Each pool's ``emitters`` choose which objects it gets (see :data:`capforecast.emit.EMITTERS`). Nothing is
applied to a cluster: these are files for review (``kubectl diff -k``) and for a GitOps tool or a person.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast._io import atomic_dir
from capforecast._units import format_time
from capforecast.emit import kubernetes as kube
from capforecast.emit.keda import scaled_object
from capforecast.emit.schedule import reservation_windows
from capforecast.errors import PlanningError
from capforecast.planning.pools import PoolSpec

__all__ = ["write_overlay"]

_EXTERNAL_NOTE = (
    "# Stand-in for your {kind}, only so that windows/*/external builds offline: never apply it.\n"
    "# The window patches change only {field} of your real object (same name and namespace).\n"
)

_EXTERNAL_PATCH_NOTE = (
    "# Patches for objects you own (HPAs, Karpenter NodePools) for this window. They are kept out of the overlay\n"
    "# one level up, so applying it never touches your objects. Use them from your own kustomization, or apply\n"
    "# this folder after pointing its kustomization's resources at your manifests.\n"
)


_KEDA_NOTE = (
    "# The whole plan of this pool: KEDA applies each window (cron trigger) at its time, in UTC.\n"
    "# Apply once per plan with `kubectl apply -k k8s/keda`; it replaces the previous plan's triggers.\n"
)

# ------------------------------------------------------------------------------------------------ files


def require_plan(plan: object) -> None:
    """Raise :class:`PlanningError` unless ``plan`` is a frame with a plan's columns (what emitters read)."""
    if not isinstance(plan, pd.DataFrame):
        raise PlanningError(f"plan: expected the DataFrame returned by plan_capacity, got {type(plan).__name__}")
    missing = [c for c in ("unique_id", "ds", "nodes", "gpus", "reason") if c not in plan.columns]
    if missing:
        raise PlanningError(f"plan is missing column(s) {missing}; pass the frame returned by plan_capacity")


def _dump(objs: Iterable[dict[str, Any]], header: str = "") -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter: same text, ~10x faster at fleets
    return header + "---\n".join(yaml.dump(o, Dumper=dumper, sort_keys=False, default_flow_style=False)
                                   for o in objs)


def _kustomization(resources: list[str], patches: list[str] | None = None) -> str:
    import yaml

    doc: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                           "resources": resources}
    if patches:
        doc["patches"] = [{"path": p} for p in patches]
    return yaml.safe_dump(doc, sort_keys=False)


def _schedule_doc(windows: pd.DataFrame, dirs: dict[int, str], external: bool) -> dict[str, Any]:
    items = []
    for w, rows in windows.groupby("window", sort=True):
        first = rows.iloc[0]
        items.append({
            "name": dirs[int(w)].split("/")[-1], "apply_at": format_time(first["apply_at"]),
            "until": format_time(first["until"]),
            "overlay": dirs[int(w)],
            **({"external_patches": f"{dirs[int(w)]}/external"} if external else {}),
            "pools": {str(r.unique_id): {
                "nodes": int(r.nodes), "gpus": int(r.gpus), "spare_gpus": int(r.spare_gpus),
                "placeholder_replicas": int(r.placeholder_replicas), "reason": str(r.reason),
            } for r in rows.itertuples(index=False)},
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

    require_plan(plan)
    planned = set(plan["unique_id"].astype(str))  # once, not once per pool
    pools = [p for p in pools if p.name in planned]
    windows = reservation_windows(plan, pools, align=align)
    ours, external = kube.base_objects(pools)
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
            mine, theirs = kube.patch_objects(pools, rows)
            if mine:
                put(f"windows/{name}/patches.yaml", _dump(mine))
            put(f"windows/{name}/kustomization.yaml", _kustomization(["../../base"], ["patches.yaml"] if mine else []))
            if theirs:
                put(f"windows/{name}/external/patches.yaml", _dump(theirs, _EXTERNAL_PATCH_NOTE))
                put(f"windows/{name}/external/kustomization.yaml",
                    _kustomization(["../../../external"], ["patches.yaml"]))
        keda = [p for p in pools if "keda" in p.emitters]
        for pool in keda:
            rows = windows[windows["unique_id"] == pool.name]
            put(f"keda/scaledobject-{kube.placeholder_name(pool)}.yaml",
                _dump([scaled_object(pool, rows, target=kube.placeholder_name(pool))], _KEDA_NOTE))
        if keda:
            put("keda/kustomization.yaml", _kustomization(
                ["../base", *(f"scaledobject-{kube.placeholder_name(p)}.yaml" for p in keda)]))
        put("schedule.yaml", yaml.dump(_schedule_doc(windows, dirs, bool(stand_ins)), sort_keys=False,
                                       width=200, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)))
        put("kustomization.yaml", _kustomization([dirs[0]]))
    return written
