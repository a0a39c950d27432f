"""The planner: a pure function from (forecast frame, pools, current nodes) to a Plan frame.

Rules, applied per pool in this order (each row's ``rule``/``reason`` names the one that set the number):

1. **forecast** — demand = the pool's service-quantile column (``p95`` for ``target_busy: 0.05``) times
   ``1 + headroom``; wanted nodes = ``ceil(demand / gpus_per_node)``.
2. **min / max** — clamp to ``[min_nodes, max_nodes]``; a forecast above ``max_nodes`` is kept in
   ``wanted_nodes`` and flagged ``capped`` (never clipped silently).
3. **cooldown** — scale up at once, scale in only when the clamped need has stayed lower for
   ``scale_in_cooldown`` (the max over the trailing cooldown window, current nodes included).
3b. **min_window** — each step is raised to the most nodes of its clock window of ``min_window`` (from 00:00
   UTC), so nodes change only at window boundaries; never lowered (:mod:`capforecast.planning._smoothing`).
4. **lead_time** — when the current nodes are known (``state``), steps starting before ``now + lead_time``
   cannot get new nodes: they hold the current count and the shortfall is flagged.
5. **budget** — under a shared GPU :class:`~capforecast.planning.pools.Budget`, lowest ``priority`` tiers
   are cut first (never below ``min_nodes``); ``cut_nodes`` says by how much.
6. **fallback** — a pool with no forecast rows holds a static plan: the service quantile of its recent
   ``history`` if given (>= 1 day), else ``max_nodes``.

A Plan row at ``ds`` is the capacity to *hold* during ``[ds, ds + step)``; the emitters turn it into
requests made ``lead_time`` ahead (see :mod:`capforecast.emit.schedule`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from capforecast import frames
from capforecast.errors import PlanningError
from capforecast.planning._budget import apply_budget
from capforecast.planning._reasons import reason_texts
from capforecast.planning._smoothing import hold_windows
from capforecast.planning.pools import Budget, PoolSpec, pool_list

__all__ = ["PLAN_COLUMNS", "plan_capacity", "static_nodes"]

log = logging.getLogger(__name__)

#: The required columns of a Plan frame (extra columns follow them).
PLAN_COLUMNS = ("unique_id", "ds", "nodes", "gpus", "reason")
_EXTRA = ("rule", "quantile", "demand_q", "expected", "wanted_nodes", "capped", "cut_nodes", "shortfall_nodes")
_EPS = 1e-9


#: More nodes than any pool holds; a larger need (a forecast of 1e300 GPUs) is counted as this many, so it stays
#: above max_nodes (capped, and reported) instead of wrapping around int64 to a negative count (min_nodes).
_MANY_NODES = 2**53


def _nodes_for(gpus: np.ndarray, pool: PoolSpec) -> np.ndarray:
    nodes = np.ceil(np.maximum(gpus, 0.0) / pool.gpus_per_node - _EPS)
    return np.minimum(nodes, _MANY_NODES).astype(np.int64)


def static_nodes(history: pd.DataFrame, pool: PoolSpec, *, days: float = 14) -> int:
    """The static plan for ``pool``: nodes for the service quantile of its last ``days`` of history.

    Used as the fallback rule and as the report's comparison. ``history`` is a series frame (NaN ignored).

    Examples
    --------
    >>> import pandas as pd
    >>> h = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2026-01-01", periods=48, freq="h", tz="UTC"),
    ...                   "y": [10.0] * 47 + [40.0]})
    >>> static_nodes(h, PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=9, lead_time="10m"))
    2
    """
    rows = history[history["unique_id"].astype(str) == pool.name]
    if rows.empty:
        raise PlanningError(f"pool {pool.name!r}: no history rows; give history for this pool or drop the pool")
    recent = rows[rows["ds"] > rows["ds"].max() - pd.Timedelta(days=days)]["y"].astype(float).dropna()
    if recent.empty:
        raise PlanningError(f"pool {pool.name!r}: its recent history is all missing; give observed history")
    need = float(np.quantile(recent.to_numpy(), pool.service_quantile)) * (1.0 + pool.headroom)
    return int(np.clip(_nodes_for(np.array([need]), pool)[0], pool.min_nodes, pool.max_nodes))


def _service_column(fc: pd.DataFrame, pool: PoolSpec) -> str:
    col = frames.quantile_column(pool.service_quantile)
    if col not in fc.columns:
        present = list(frames.quantile_columns(fc).values()) or ["none"]
        have = ",".join(f"{q:g}" for q in frames.quantile_columns(fc))
        want = ",".join(f"{q:g}" for q in sorted({*frames.quantile_columns(fc), pool.service_quantile}))
        raise PlanningError(
            f"pool {pool.name!r} plans from forecast column {col!r} (quantile {pool.service_quantile:g}) but the "
            f"forecast has only {', '.join(present)}; forecast again with --quantiles {want} "
            f"(or set 'quantile: <one of {have or 'the levels you have'}>' for this pool)"
        )
    return col


def _plan_pool(
    fc: pd.DataFrame, pool: PoolSpec, current: int | None, now: pd.Timestamp | None, step: pd.Timedelta,
    recent: pd.Series | None = None, held: pd.Series | None = None,
) -> dict[str, np.ndarray]:
    col = _service_column(fc, pool)
    ds = pd.DatetimeIndex(fc["ds"])
    demand = np.maximum(fc[col].to_numpy(dtype=float), 0.0)
    wanted = _nodes_for(demand * (1.0 + pool.headroom), pool)
    target = np.clip(wanted, pool.min_nodes, pool.max_nodes)
    rule = np.where(wanted > pool.max_nodes, "max", np.where(wanted < pool.min_nodes, "min", "forecast")).astype(object)

    # cooldown: nodes(t) = max of the clamped target over [t - cooldown, t], current nodes counting as at `now`
    nodes = target.copy()
    n_back = max(int(math.ceil(pool.scale_in_cooldown / step)), 0)
    start = now if now is not None else ds[0]
    held_cur = np.zeros(len(ds), bool)
    before = None  # the need planned by earlier decisions, still inside the cooldown window of a step
    if recent is not None and len(recent) and pool.scale_in_cooldown > pd.Timedelta(0):
        r_ds = pd.DatetimeIndex(recent.index)
        r_ds = r_ds.tz_localize("UTC") if r_ds.tz is None else r_ds
        keep = r_ds < ds[0]
        before = (r_ds[keep], np.asarray(recent.to_numpy(dtype=float)[keep]))
    for i in range(len(ds)):
        best = target[max(0, i - n_back) : i + 1].max()
        if before is not None:
            inside = before[1][before[0] >= ds[i] - pool.scale_in_cooldown]
            best = max(best, int(inside.max())) if inside.size else best
        if current is not None and ds[i] - start <= pool.scale_in_cooldown and current > best:
            best, held_cur[i] = current, True
        if best > nodes[i]:
            nodes[i] = best
            rule[i] = "cooldown"
    nodes = np.clip(nodes, pool.min_nodes, pool.max_nodes)

    # min_window: each step raised to the most of its clock window (held: the window's earlier steps)
    smooth = hold_windows(nodes, ds, pool.min_window, held)
    rule[smooth > nodes] = "min_window"
    nodes = smooth

    # lead time: with known current nodes, steps before now + lead_time cannot get new ones
    shortfall = np.zeros(len(ds), np.int64)
    if current is not None:
        ceiling = max(current, pool.min_nodes)
        late = (ds < start + pool.lead_time) & (nodes > ceiling)
        shortfall[late] = nodes[late] - ceiling
        nodes[late] = ceiling
        rule[late] = "lead_time"

    reasons = reason_texts(pool, col, rule, demand, wanted, nodes, shortfall, held_cur, start)

    n = len(ds)
    return {
        "unique_id": np.full(n, pool.name, dtype=object),
        "ds": fc["ds"].dt.tz_convert(None).to_numpy(),
        "nodes": nodes.astype(np.int64),
        "gpus": (nodes * pool.gpus_per_node).astype(np.int64),
        "reason": np.array(reasons, dtype=object),
        "rule": rule,
        "quantile": np.full(n, pool.service_quantile),
        "demand_q": demand,
        "expected": np.maximum(fc["yhat"].to_numpy(dtype=float), 0.0),
        "wanted_nodes": wanted,
        "capped": wanted > pool.max_nodes,
        "cut_nodes": np.zeros(n, np.int64),
        "shortfall_nodes": shortfall,
    }


def _fallback(pool: PoolSpec, grid: pd.DatetimeIndex, history: pd.DataFrame | None) -> dict[str, np.ndarray]:
    n, why = pool.max_nodes, "no forecast and no history for this pool: holding max_nodes"
    if history is not None:
        rows = history[history["unique_id"].astype(str) == pool.name]
        span = rows["ds"].max() - rows["ds"].min() if len(rows) else pd.Timedelta(0)
        if span >= pd.Timedelta(days=1) and rows["y"].notna().any():
            n = static_nodes(history, pool)
            why = f"no forecast for this pool: static p{pool.service_quantile * 100:g} of recent history"
    log.warning("pool %s: %s (%d nodes)", pool.name, why, n)
    k = len(grid)
    return {
        "unique_id": np.full(k, pool.name, dtype=object), "ds": grid.tz_convert(None).to_numpy(),
        "nodes": np.full(k, n, np.int64),
        "gpus": np.full(k, n * pool.gpus_per_node, np.int64), "reason": np.full(k, f"fallback: {why}", dtype=object),
        "rule": np.full(k, "fallback", dtype=object), "quantile": np.full(k, pool.service_quantile),
        "demand_q": np.full(k, np.nan), "expected": np.full(k, np.nan), "wanted_nodes": np.full(k, n, np.int64),
        "capped": np.zeros(k, bool), "cut_nodes": np.zeros(k, np.int64), "shortfall_nodes": np.zeros(k, np.int64),
    }


def plan_capacity(
    forecast: pd.DataFrame,
    pools: Sequence[PoolSpec],
    *,
    state: Mapping[str, int] | None = None,
    now: Any = None,
    budget: Budget | None = None,
    history: pd.DataFrame | None = None,
    model: str | None = None,
    recent: Mapping[str, pd.Series] | None = None,
    held: Mapping[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """Plan the nodes each pool holds at each forecast step.

    Parameters
    ----------
    forecast : DataFrame
        A forecast frame with the pools' service-quantile columns (one ``model``; if several, the first).
    pools : sequence of PoolSpec
        The pools to plan (a :class:`~capforecast.planning.pools.PoolSet` also brings its ``budget``).
    state : mapping, optional
        Current nodes per pool: start of the cooldown, and the ceiling for steps inside the lead time.
    now : time, optional
        Decision time (default: the first forecast step). Forecast steps before it are dropped.
    budget : Budget, optional
        Shared GPU cap (default: ``pools.budget`` when ``pools`` is a PoolSet).
    history : DataFrame, optional
        Series frame used only by the fallback rule for pools without forecast rows.
    model : str, optional
        Which ``model`` of the forecast to plan from (default: the only one; the first, with a warning).
    recent : mapping, optional
        Per pool, the node need (``clip(wanted_nodes, min_nodes, max_nodes)``) that earlier plans gave to
        earlier steps, as a Series indexed by ``ds``: the cooldown counts it, so a caller planning one window
        after another (e.g. every hour) scales in exactly as one continuous plan would. Unlike ``state`` it
        does not switch on the lead-time rule.
    held : mapping, optional
        Per pool, the ``nodes`` earlier plans held at earlier steps (a Series indexed by ``ds``): their steps in
        the current ``min_window`` window count, so plans made one after another never step down inside one.

    Returns
    -------
    DataFrame
        ``unique_id, ds, nodes, gpus, reason`` then ``rule, quantile, demand_q, expected, wanted_nodes,
        capped, cut_nodes, shortfall_nodes``; sorted by pool (in ``pools`` order) and ``ds``.
    """
    from capforecast._units import parse_time

    budget = budget if budget is not None else getattr(pools, "budget", None)
    pools = pool_list(pools)
    if not pools:
        raise PlanningError("no pools to plan; list at least one pool under 'pools:' in the pools file")
    fc = frames.validate_forecast(forecast)
    models = list(dict.fromkeys(fc["model"].astype(str)))
    if model is not None:
        if model not in models:
            raise PlanningError(f"the forecast has no model {model!r}; it has {', '.join(models)}")
        fc = fc[fc["model"].astype(str) == model]
    elif len(models) > 1:
        log.warning("forecast has models %s; planning from %r", models, models[0])
        fc = fc[fc["model"] == models[0]]
    negative = frames.negative_values(fc, list(frames.quantile_columns(fc).values()))
    if negative:
        raise PlanningError(
            f"the forecast has negative quantiles in {negative}; GPU demand cannot be negative: forecast from "
            "non-negative history (models never go below 0 then) or set those values to 0"
        )
    fc = fc.sort_values("ds", kind="stable")  # each pool's rows in time order (pools are looked up by name)
    t_now = parse_time(now, name="now") if now is not None else None
    if t_now is not None:
        fc = fc[fc["ds"] >= t_now]
        if fc.empty:
            raise PlanningError(f"every forecast step is before now={t_now}; forecast again from now on")
    if state is not None and not isinstance(state, Mapping):
        raise PlanningError(f"state must map pool names to their current nodes, e.g. {{'a100': 6}}; got {state!r}")
    if budget is not None and not isinstance(budget, Budget):
        raise PlanningError(f"budget must be a Budget, e.g. Budget(gpus=64), or None; got {budget!r}")
    for name, given in (("recent", recent), ("held", held)):
        if given is not None and not (isinstance(given, Mapping)
                                      and all(isinstance(v, pd.Series) for v in given.values())):
            raise PlanningError(f"{name} must map pool names to pandas Series indexed by ds (the earlier plans' "
                                f"steps), e.g. {{'a100': pd.Series([4], index=[ds])}}; got {type(given).__name__}")
    if history is not None:
        frames.validate(history, name="history")
    state = dict(state or {})
    unknown = set(state) - {p.name for p in pools}
    if unknown:
        raise PlanningError(f"state names pools {sorted(unknown)} that are not in the pools file; fix the names")
    grid = pd.DatetimeIndex(sorted(fc["ds"].unique()))
    step = pd.Series(grid).diff().min() if len(grid) > 1 else pd.Timedelta(hours=1)
    parts = []
    groups = {str(k): g for k, g in fc.groupby("unique_id", sort=False)}
    for pool in pools:
        rows = groups.get(pool.name)
        if rows is None:
            parts.append(_fallback(pool, grid, history))
            continue
        cur = state.get(pool.name)
        if cur is not None and (isinstance(cur, bool) or not isinstance(cur, (int, float, np.number))
                                or not float(cur).is_integer() or cur < 0):
            raise PlanningError(f"state for pool {pool.name!r} is {cur!r}; give the current node count (>= 0)")
        pstep = pd.Series(rows["ds"]).diff().min() if len(rows) > 1 else step
        parts.append(_plan_pool(rows.reset_index(drop=True), pool, None if cur is None else int(cur), t_now, pstep,
                                (recent or {}).get(pool.name), (held or {}).get(pool.name)))
    extra = sorted(set(fc["unique_id"].astype(str)) - {p.name for p in pools})
    if extra:
        log.info("forecast series without a pool (not planned): %s", ", ".join(extra[:10]))
    plan = pd.DataFrame({c: np.concatenate([part[c] for part in parts]) for c in parts[0]})
    plan["ds"] = pd.to_datetime(plan["ds"], utc=True)
    if budget is not None:
        plan = apply_budget(plan, pools, budget)
    order = {p.name: i for i, p in enumerate(pools)}
    plan = plan.iloc[np.lexsort((pd.DatetimeIndex(plan["ds"]).asi8, plan["unique_id"].map(order).to_numpy()))]
    return plan[list(PLAN_COLUMNS) + list(_EXTRA)].reset_index(drop=True)
