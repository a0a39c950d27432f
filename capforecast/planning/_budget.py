"""The budget rule of the planner: cut the lowest ``priority`` tiers first to keep a shared GPU cap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from capforecast.errors import PlanningError
from capforecast.planning.pools import Budget, PoolSpec

__all__ = ["apply_budget"]


def apply_budget(plan: pd.DataFrame, pools: Sequence[PoolSpec], budget: Budget) -> pd.DataFrame:
    """Per step, while the budgeted pools exceed ``budget``, take one node from the lowest tier (water-fill)."""
    members = [p for p in pools if budget.pools is None or p.name in budget.pools]
    by_name = {p.name: p for p in members}
    sub = plan[plan["unique_id"].isin(by_name)]
    if sub.empty:
        return plan
    wide = sub.pivot(index="ds", columns="unique_id", values="nodes")
    if wide.isna().any().any():
        raise PlanningError(
            "budget: the pools under one budget must be planned on the same time steps; forecast them together "
            "with one horizon and step"
        )
    names = list(wide.columns)
    gpn = np.array([by_name[n].gpus_per_node for n in names])
    mins = np.array([by_name[n].min_nodes for n in names])
    prio = np.array([by_name[n].priority for n in names])
    values = wide.to_numpy(dtype=np.int64)
    cut = np.zeros_like(values)
    for t in range(values.shape[0]):
        row = values[t].copy()
        excess = int(row @ gpn) - budget.gpus
        for tier in sorted(set(prio)):
            idx = np.flatnonzero(prio == tier)
            while excess > 0:
                spare = (row[idx] - mins[idx]) * gpn[idx]
                if spare.max() <= 0:
                    break
                j = idx[int(np.argmax(spare))]  # water-fill: cut the pool holding most GPUs above its minimum
                row[j] -= 1
                excess -= gpn[j]
            if excess <= 0:
                break
        cut[t] = values[t] - row
    cut_wide = pd.DataFrame(cut, index=wide.index, columns=pd.Index(names, name="unique_id"))
    cut_long = cut_wide.stack().rename("cut").reset_index()
    out = plan.merge(cut_long, on=["ds", "unique_id"], how="left")
    c = out["cut"].fillna(0).astype(np.int64).to_numpy()
    hit = c > 0
    out["cut_nodes"] = c
    out.loc[hit, "nodes"] = out.loc[hit, "nodes"] - c[hit]
    gpn_row = out["unique_id"].map({p.name: p.gpus_per_node for p in pools}).to_numpy()
    out["gpus"] = (out["nodes"].to_numpy() * gpn_row).astype(np.int64)
    out.loc[hit, "rule"] = "budget"
    tiers = out["unique_id"].map({p.name: p.priority for p in pools})
    out.loc[hit, "reason"] = [
        f"budget {budget.gpus} GPUs: cut {k} node(s) (priority {t}; lower tiers go first), busy target cannot be "
        f"met here; was: {r}"
        for k, t, r in zip(c[hit], tiers[hit], out.loc[hit, "reason"], strict=True)
    ]
    return out.drop(columns="cut")
