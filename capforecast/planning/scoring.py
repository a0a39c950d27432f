"""Scores of a capacity plan against the demand that really happened (BENCHMARKS.md section 2).

Demand ``d(t)`` (GPUs) per step, a plan of ``nodes(t)``, capacity ``c(t) = nodes(t) * gpus_per_node``:

- ``busy``: share of steps with ``d > c`` (how often users find the cluster busy);
- ``unmet_share``: ``sum(max(0, d - c)) / sum(d)``;
- ``idle_gpu_hours``: ``sum(max(0, c - d))`` times the step in hours;
- ``cost``: node-hours times ``price_per_node_hour``;
- ``cost_ratio``: ``sum(c) / sum(c_oracle)``, the oracle holding exactly ``ceil(d / gpus_per_node)`` nodes;
- ``scale_events``: number of steps where ``nodes`` differs from the step before;
- ``windows_per_day``: windows of unchanged nodes (``scale_events + 1``) per day of the plan.

Steps with missing demand (NaN) are left out of every sum except ``scale_events``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from capforecast.errors import FrameError, PlanningError
from capforecast.planning._smoothing import count_windows

__all__ = ["SCORE_COLUMNS", "busy_steps", "oracle_nodes", "score_nodes", "score_plan"]

SCORE_COLUMNS = ("busy", "unmet_share", "idle_gpu_hours", "cost", "cost_ratio", "scale_events", "windows_per_day")

# A demand within this many GPUs above capacity is not counted as busy (hourly means carry float noise).
_TOLERANCE = 1e-9
_HOUR = pd.Timedelta("1h")


def oracle_nodes(demand: np.ndarray, gpus_per_node: int) -> np.ndarray:
    """Return the fewest nodes that hold each step's demand: ``ceil(d / gpus_per_node)`` (NaN stays NaN).

    Examples
    --------
    >>> oracle_nodes(np.array([0.0, 7.5, 8.0, 8.2]), 8).tolist()
    [0.0, 1.0, 1.0, 2.0]
    """
    if gpus_per_node <= 0:
        raise PlanningError(f"gpus_per_node must be a positive number, got {gpus_per_node}; fix the pool spec")
    d = np.asarray(demand, dtype=float)
    return np.maximum(np.ceil(d / gpus_per_node - _TOLERANCE), 0.0)


def busy_steps(demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Which steps are *busy*: demand above capacity (by more than float noise); NaN demand is never busy.

    The one definition of ``busy`` (BENCHMARKS.md section 2): :func:`score_nodes` averages it over the steps.

    Examples
    --------
    >>> busy_steps(np.array([8.0, 8.5, np.nan]), np.array([8.0, 8.0, 8.0])).tolist()
    [False, True, False]
    """
    d = np.asarray(demand, dtype=float)
    with np.errstate(invalid="ignore"):
        return d > np.asarray(capacity, dtype=float) + _TOLERANCE


def score_nodes(
    demand: np.ndarray,
    nodes: np.ndarray,
    *,
    gpus_per_node: int,
    price_per_node_hour: float = 1.0,
    step: pd.Timedelta = _HOUR,
) -> dict[str, float]:
    """Score one pool's plan ``nodes`` against ``demand`` (same length); see the module doc for the metrics.

    Examples
    --------
    >>> s = score_nodes(np.array([4.0, 12.0, 20.0]), np.array([1, 2, 2]), gpus_per_node=8)
    >>> round(s["busy"], 3), round(s["cost_ratio"], 3), s["scale_events"]
    (0.333, 0.833, 1)
    """
    d = np.asarray(demand, dtype=float)
    n = np.asarray(nodes, dtype=float)
    if d.shape != n.shape or d.ndim != 1:
        raise PlanningError(
            f"demand and nodes must be 1-D arrays of the same length, got {d.shape} and {n.shape}; "
            "score a plan over exactly the steps it covers"
        )
    if np.isnan(n).any():
        raise PlanningError("the plan has missing node counts; every step of a plan needs a number of nodes")
    hours = pd.Timedelta(step).total_seconds() / 3600.0
    seen = ~np.isnan(d)
    dd, nn = d[seen], n[seen]
    cap = nn * gpus_per_node
    oracle = oracle_nodes(dd, gpus_per_node) * gpus_per_node
    oracle_sum = float(oracle.sum())
    total = float(dd.sum())
    return {
        "busy": float(np.mean(busy_steps(dd, cap))) if dd.size else math.nan,
        "unmet_share": float(np.maximum(dd - cap, 0).sum() / total) if total > 0 else 0.0,
        "idle_gpu_hours": float(np.maximum(cap - dd, 0).sum() * hours),
        "cost": float(nn.sum() * hours * price_per_node_hour),
        "cost_ratio": float(cap.sum() / oracle_sum) if oracle_sum > 0 else (1.0 if cap.sum() == 0 else math.inf),
        "scale_events": int(np.count_nonzero(np.diff(n) != 0)),
        "windows_per_day": float(count_windows(n) / (n.size * hours / 24)) if n.size else math.nan,
    }


def score_plan(
    plan: pd.DataFrame,
    actuals: pd.DataFrame,
    gpus_per_node: int | Mapping[str, int],
    *,
    price_per_node_hour: float | Mapping[str, float] = 1.0,
) -> pd.DataFrame:
    """Score a plan frame (``unique_id, ds, nodes``) against a series frame of actual demand (``y``).

    ``gpus_per_node`` and ``price_per_node_hour`` are one number for every pool or a mapping by ``unique_id``.
    Returns one row per ``unique_id`` with the columns in :data:`SCORE_COLUMNS`.

    Examples
    --------
    >>> ds = pd.date_range("2026-05-01", periods=3, freq="h", tz="UTC")
    >>> plan = pd.DataFrame({"unique_id": "a", "ds": ds, "nodes": [1, 2, 2]})
    >>> act = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [4.0, 12.0, 20.0]})
    >>> score_plan(plan, act, 8)["scale_events"].tolist()
    [1]
    """
    needs = (("plan", plan, ("unique_id", "ds", "nodes")), ("actuals", actuals, ("unique_id", "ds", "y")))
    for name, df, cols in needs:
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise FrameError(f"{name} frame lacks column(s) {missing}; it needs {list(cols)}")
    merged = plan[["unique_id", "ds", "nodes"]].merge(
        actuals[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="left"
    )
    rows = []
    for uid, part in merged.groupby("unique_id", sort=True):
        part = part.sort_values("ds")
        gpn = gpus_per_node[uid] if isinstance(gpus_per_node, Mapping) else gpus_per_node
        price = price_per_node_hour[uid] if isinstance(price_per_node_hour, Mapping) else price_per_node_hour
        step = part["ds"].diff().min() if len(part) > 1 else pd.Timedelta("1h")
        scores = score_nodes(part["y"].to_numpy(float), part["nodes"].to_numpy(float), gpus_per_node=gpn,
                             price_per_node_hour=price, step=step)
        rows.append({"unique_id": str(uid), **scores})
    return pd.DataFrame(rows, columns=["unique_id", *SCORE_COLUMNS])
