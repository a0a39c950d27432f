"""The pool's rules applied decision by decision in the simulator, to capforecast's plan and the baselines'.

:func:`plan_window` runs :func:`~capforecast.planning.plan_capacity` at every decision time of the test window,
so the pool's ``headroom``, ``min_window``, ``scale_in_cooldown`` and a shared budget act on a simulated plan as
they act on a real one (the cooldown and the held windows carry from one decision to the next).
:func:`baselines_under_rules` holds the reference planners to the same rules: a plan that changes every hour
cannot be applied to a pool whose nodes may change only every 4 h, so it is not compared as if it could.
Their knobs are still chosen on the validation window without the rules (BENCHMARKS.md), as capforecast's
calibration also scores its plan before the rules; with no rule and no budget nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from capforecast.planning._decisions import score_window
from capforecast.planning.baselines import Decision

__all__ = ["baselines_under_rules", "has_rules", "plan_window"]


def plan_window(
    decisions: Mapping[str, Sequence[Decision]],
    bases: Mapping[str, np.ndarray],
    layout: Mapping[str, tuple],
    pools: Sequence[Any],
    budget: Any = None,
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Run :func:`~capforecast.planning.plan_capacity` at every decision time on a planned demand in GPUs
    (capforecast's calibrated forecast, or a baseline's plan), one array per pool over its decisions' targets.

    Returns each pool's nodes and its number of steps whose calibrated need the plan could not hold
    (above ``max_nodes``, or cut by the budget): there the busy target cannot be met.
    """
    from capforecast.frames import quantile_column
    from capforecast.planning.planner import plan_capacity

    rows: dict[tuple[pd.Timestamp, float], list[pd.DataFrame]] = {}
    for pool in pools:  # one planner call per decision time and service quantile (a column per level)
        uid, level = pool.name, pool.service_quantile
        ds, offset = layout[uid][0], 0
        for d in decisions[uid]:
            value = bases[uid][offset: offset + len(d.targets)]
            offset += len(d.targets)
            rows.setdefault((d.time, level), []).append(pd.DataFrame({
                "unique_id": uid, "ds": ds[d.targets], "model": "capforecast", "yhat": value,
                quantile_column(level): value,
            }))
    out: dict[str, list[np.ndarray]] = {p.name: [] for p in pools}
    short = dict.fromkeys(out, 0)
    spec = {p.name: p for p in pools}
    recent: dict[str, pd.Series] = {}  # each pool's need in its last cooldown: the cooldown spans decisions
    held: dict[str, pd.Series] = {}  # each pool's held nodes: its min_window spans decisions
    for time, level in sorted(rows):
        fc = pd.concat(rows[(time, level)], ignore_index=True)
        names = set(fc["unique_id"])
        plan = plan_capacity(fc, [p for p in pools if p.name in names], now=time, budget=budget, recent=recent,
                             held=held)
        for uid, sub in plan.groupby("unique_id", sort=False):
            p = spec[str(uid)]
            out[str(uid)].append(sub["nodes"].to_numpy(float))
            short[str(uid)] += int((sub["capped"] | (sub["cut_nodes"] > 0)).sum())
            need = pd.Series(np.clip(sub["wanted_nodes"].to_numpy(), p.min_nodes, p.max_nodes),
                             index=pd.DatetimeIndex(sub["ds"]))
            both = pd.concat([recent[p.name], need]) if p.name in recent else need
            recent[p.name] = both[both.index > both.index.max() - p.scale_in_cooldown]
            now_held = pd.Series(sub["nodes"].to_numpy(), index=pd.DatetimeIndex(sub["ds"]))
            held[p.name] = pd.concat([held[p.name], now_held]) if p.name in held else now_held
    return {uid: np.concatenate(parts) for uid, parts in out.items()}, short


def has_rules(pool: Any) -> bool:
    """Whether ``pool`` has a rule of its own that changes a plan: headroom, a min_window or a cooldown."""
    zero = pd.Timedelta(0)
    return bool(pool.headroom) or pd.Timedelta(pool.min_window) > zero or pd.Timedelta(pool.scale_in_cooldown) > zero


def baselines_under_rules(
    reference: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
    decisions: Mapping[str, Sequence[Decision]],
    layout: Mapping[str, tuple],
    pools: Sequence[Any],
    budget: Any = None,
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each pool's ``(plans, scores)`` of the reference planners with the test-window plans re-planned under the
    pools' rules and budget, and re-scored; the oracle and the pools without rules (when there is no budget) are
    returned as they are. ``knob`` and ``val_busy`` stay those of the validation window.
    """
    ruled = [p for p in pools if budget is not None or has_rules(p)]
    out = dict(reference)
    if not ruled:
        return out
    methods = [m for m in reference[ruled[0].name][0]["method"].unique() if m != "oracle"]
    nodes = {}
    for m in methods:  # one pass per planner: all ruled pools together, so a shared budget acts as on capforecast
        bases = {}
        for p in ruled:
            plans = reference[p.name][0]
            bases[p.name] = plans.loc[plans["method"] == m, "nodes"].to_numpy(float) * p.gpus_per_node
        planned, _ = plan_window({p.name: decisions[p.name] for p in ruled}, bases, layout, ruled, budget)
        nodes.update({(uid, m): n for uid, n in planned.items()})
    for p in ruled:
        plans, scores = reference[p.name]
        plans, scores = plans.copy(), scores.copy()
        ds, y, _, _, test_start, stop = layout[p.name]
        target = 1.0 - p.service_quantile
        for m in methods:
            n = nodes[(p.name, m)]
            plans.loc[plans["method"] == m, "nodes"] = n.astype(int)
            s, met = score_window(y[test_start:stop], n, p, target, ds[1] - ds[0])
            row = scores.index[scores["method"] == m]
            for key, value in {**s, "met": met}.items():
                scores.loc[row, key] = value
        out[p.name] = (plans, scores)
    return out
