"""What earlier plans really delivered once the demand was observed: realised busy, unmet share and cost.

The plans published by earlier runs are laid end to end (:func:`plans_in_force`: each step keeps the row of the
newest plan that covers it, the one whose overlay replaced the others) and scored against the observed demand
with :func:`~capforecast.planning.scoring.score_nodes`, so ``busy`` has one definition everywhere
(BENCHMARKS.md section 2: the share of steps with demand above the planned capacity). Steps without observed
demand, or without a plan in force, are left out.

Windows end at ``end``, the newest observed step: the last day holds the steps labelled in ``(end - 1 day,
end]``, the last 7 days those in ``(end - 7 days, end]``. ``days_over_target`` counts the days among those 7
(each a 24 h window ending at ``end``, ``end - 1 day``, ...) with scored steps and a realised busy above the
pool's ``target_busy``; a pool with at least ``flag_after_days`` of them is *flagged*, and
:func:`widen_pool` gives the stricter pool it is planned with next.

Examples
--------
>>> from capforecast.planning.pools import PoolSpec
>>> ds = pd.date_range("2026-05-01 01:00", periods=4, freq="h", tz="UTC")
>>> plan = pd.DataFrame({"unique_id": "a", "ds": ds, "nodes": [1, 1, 2, 2]})
>>> seen = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [4.0, 9.0, 12.0, 17.0]})
>>> pool = PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=4, lead_time="5m", target_busy=0.05)
>>> r = score_realised([plan], seen, [pool], end=ds[-1])
>>> r.summary["pools"]["a"]["last_day"]["busy_ratio"], r.summary["pools"]["a"]["flagged"]
(0.5, False)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from capforecast.planning.pools import PoolSpec
from capforecast.planning.scoring import busy_steps, score_nodes

__all__ = ["Realised", "plans_in_force", "score_realised", "widen_pool"]

_DAY = pd.Timedelta(days=1)
#: Days scored: the last day and the last 7 days.
DAYS = 7


@dataclass(frozen=True)
class Realised:
    """Realised scores of earlier plans.

    Attributes
    ----------
    summary : dict
        ``{"as_of": the newest observed step (ISO time), "pools": {pool: {"target", "last_day", "last_7_days",
        "flagged", "days_over_target"}}}``; each window holds ``busy_ratio``, ``unmet_share``, ``cost_ratio`` (None when
        undefined, e.g. no step scored) and ``steps``. Pools without a scored step are left out.
    steps : DataFrame
        The scored steps of the last 7 days: ``unique_id, ds, y, nodes, capacity, busy``.

    Examples
    --------
    >>> Realised(summary={"as_of": None, "pools": {"a": {"flagged": True}}}, steps=pd.DataFrame()).flagged()
    ['a']
    """

    summary: dict[str, Any]
    steps: pd.DataFrame

    def flagged(self) -> list[str]:
        """The pools flagged for a realised busy above target on too many days."""
        return sorted(p for p, s in self.summary["pools"].items() if s["flagged"])


def plans_in_force(plans: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Lay plans (oldest first) end to end: each ``(unique_id, ds)`` keeps the row of the newest plan holding it.

    Examples
    --------
    >>> ds = pd.date_range("2026-05-01", periods=3, freq="h", tz="UTC")
    >>> old = pd.DataFrame({"unique_id": "a", "ds": ds, "nodes": [1, 1, 1]})
    >>> new = pd.DataFrame({"unique_id": "a", "ds": ds[1:], "nodes": [5, 5]})
    >>> plans_in_force([old, new])["nodes"].tolist()
    [1, 5, 5]
    """
    if not plans:
        return pd.DataFrame({"unique_id": pd.Series(dtype=str), "ds": pd.Series(dtype="datetime64[ns, UTC]"),
                             "nodes": pd.Series(dtype="int64")})
    rows = pd.concat([p[["unique_id", "ds", "nodes"]].assign(_order=i) for i, p in enumerate(plans)],
                     ignore_index=True)
    rows["unique_id"] = rows["unique_id"].astype(str)
    rows = rows.sort_values(["unique_id", "ds", "_order"]).drop_duplicates(["unique_id", "ds"], keep="last")
    return rows.drop(columns="_order").reset_index(drop=True)


def _ratio(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _window(part: pd.DataFrame, pool: PoolSpec, step: pd.Timedelta) -> dict[str, Any]:
    if part.empty:
        return {"busy_ratio": None, "unmet_share": None, "cost_ratio": None, "steps": 0}
    s = score_nodes(part["y"].to_numpy(float), part["nodes"].to_numpy(float), gpus_per_node=pool.gpus_per_node,
                    price_per_node_hour=pool.price_per_node_hour, step=step)
    return {"busy_ratio": _ratio(s["busy"]), "unmet_share": _ratio(s["unmet_share"]),
            "cost_ratio": _ratio(s["cost_ratio"]), "steps": int(len(part))}


def score_realised(
    plans: Sequence[pd.DataFrame],
    actuals: pd.DataFrame,
    pools: Sequence[PoolSpec],
    *,
    end: pd.Timestamp,
    flag_after_days: int = 2,
) -> Realised:
    """Score the earlier ``plans`` (oldest first) against the observed demand ``actuals`` up to ``end``.

    ``plans`` are plan frames (``unique_id, ds, nodes``, e.g. :func:`~capforecast.planning.plan_file.read_plan`
    of each run's ``plan.csv``); ``actuals`` is a series frame; ``end`` the newest step observed. See the module
    doc for the windows and the flag.
    """
    end = pd.Timestamp(end)
    start = end - DAYS * _DAY
    held = plans_in_force(plans)
    held = held[(held["ds"] > start) & (held["ds"] <= end)]
    seen = actuals[["unique_id", "ds", "y"]].assign(unique_id=actuals["unique_id"].astype(str))
    merged = held.merge(seen, on=["unique_id", "ds"], how="inner")
    merged = merged[merged["y"].notna()]
    out: dict[str, Any] = {}
    frames = []
    for pool in pools:
        part = merged[merged["unique_id"] == pool.name].sort_values("ds").reset_index(drop=True)
        if part.empty:
            continue
        step = part["ds"].diff().min() if len(part) > 1 else pd.Timedelta(hours=1)
        capacity = part["nodes"].to_numpy(float) * pool.gpus_per_node
        frames.append(part.assign(capacity=capacity, busy=busy_steps(part["y"].to_numpy(float), capacity)))
        days = [_window(part[(part["ds"] > end - (k + 1) * _DAY) & (part["ds"] <= end - k * _DAY)], pool, step)
                for k in range(DAYS)]
        over = sum(1 for d in days if d["steps"] and d["busy_ratio"] is not None
                   and d["busy_ratio"] > pool.target_busy)
        out[pool.name] = {
            "target": float(pool.target_busy),
            "last_day": days[0],
            "last_7_days": _window(part, pool, step),
            "flagged": bool(over >= flag_after_days),
            "days_over_target": int(over),
        }
    steps = (pd.concat(frames, ignore_index=True) if frames else
             pd.DataFrame(columns=["unique_id", "ds", "nodes", "y", "capacity", "busy"]))
    summary = {"as_of": end.isoformat(), "pools": out}
    return Realised(summary=summary, steps=steps[["unique_id", "ds", "y", "nodes", "capacity", "busy"]])


def widen_pool(pool: PoolSpec, factor: float = 0.5) -> PoolSpec:
    """The pool planned at a stricter level: its miss share ``1 - service_quantile`` times ``factor``.

    Examples
    --------
    >>> p = PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=4, lead_time="5m", target_busy=0.05)
    >>> widen_pool(p).service_quantile
    0.975
    """
    level = 1.0 - (1.0 - pool.service_quantile) * factor
    return dataclasses.replace(pool, quantile=round(float(np.clip(level, 0.0, 1.0 - 1e-6)), 6))
