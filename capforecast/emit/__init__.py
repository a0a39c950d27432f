"""Emitters: turn a Plan into files (a kustomize overlay, an ops report, JSON). Nothing is applied to a cluster.

Two explicit registries:

- :data:`EMITTERS` — the Kubernetes objects a pool can select with ``emitters: [...]`` in the pools file:
  ``placeholder`` (overprovisioning Deployment of pause pods, replicas patched per window), ``capacity-buffer``
  (an ``autoscaling.x-k8s.io`` CapacityBuffer), ``hpa`` (``minReplicas`` of an inference HPA) and
  ``karpenter`` (``spec.limits`` of a Karpenter NodePool) and ``keda`` (the placeholder Deployment scaled by one
  KEDA ScaledObject with a ``cron`` trigger per window, :mod:`capforecast.emit.keda`);
- :data:`WRITERS` — the output files: ``k8s`` (:func:`write_overlay`), ``report`` (:func:`write_report`),
  ``json`` (:func:`write_plan_json`).

>>> sorted(EMITTERS)
['capacity-buffer', 'hpa', 'karpenter', 'keda', 'placeholder']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from capforecast.emit.kubernetes import EMITTER_FUNCS
from capforecast.emit.overlay import write_overlay
from capforecast.emit.plan_json import write_plan_json
from capforecast.emit.schedule import reservation_windows
from capforecast.planning.pools import EMITTER_NAMES

__all__ = ["EMITTERS", "WRITERS", "reservation_windows", "write_overlay", "write_plan_json", "write_report"]

#: Kubernetes emitters by the name pools use in ``emitters:``; each is ``(base_objects, window_patch, external)``.
EMITTERS = dict(EMITTER_FUNCS)
assert set(EMITTERS) == set(EMITTER_NAMES), "capforecast.planning.pools.EMITTER_NAMES is out of date"


def write_report(out_dir: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write ``OUT/report.md`` and its figures; see :func:`capforecast.emit.report.write_report`."""
    from capforecast.emit.report import write_report as _write

    return _write(out_dir, **kwargs)


#: Output writers by name: ``(plan, pools, out_dir, **kwargs) -> path(s)``.
WRITERS = {
    "k8s": write_overlay,
    "json": write_plan_json,
    "report": lambda plan, pools, out_dir, **kw: write_report(out_dir, plan=plan, pools=pools, **kw),
}


