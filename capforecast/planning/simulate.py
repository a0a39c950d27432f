"""Walk-forward simulation of capacity plans, exactly as BENCHMARKS.md section 2 defines it.

The last ``test_days`` of each series are the test window, the ``val_days`` before it the validation window
(where every knob is chosen), everything earlier is history. A step labelled ``t`` covers ``[t, t + step)``
and counts as observed once ``t + step`` has passed. Two modes:

- ``nightly``: at each 00:00, using only steps observed by then, commit every step of the next 24 h
  (a partial first day is planned at the midnight before it);
- ``hourly``: at hour ``t``, using only steps observed by ``t``, commit the hour starting at ``t + 1h``.

:func:`decision_schedule` builds the decisions; :func:`simulate_baselines` runs the reference planners of
:mod:`capforecast.planning.baselines` (knob tuned on the validation window); :func:`simulate` adds
capforecast's own calibrated plan.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from capforecast import _reported
from capforecast.errors import PlanningError
from capforecast.planning._decisions import (
    MODES,
    PoolBounds,
    _busy,
    _check_mode,
    causal_fill,
    decision_schedule,
    score_window,
    split_windows,
    tune_knob,
)
from capforecast.planning._forecast_method import ForecastMethod
from capforecast.planning._rules import baselines_under_rules, plan_window
from capforecast.planning.baselines import BASELINES, BaselinePlanner, Decision, get_baseline
from capforecast.planning.scoring import oracle_nodes

__all__ = [
    "MODES",
    "Decision",
    "ForecastMethod",
    "PoolBounds",
    "decision_schedule",
    "simulate",
    "simulate_baselines",
    "split_windows",
]

log = logging.getLogger(__name__)


def simulate_baselines(
    frame: pd.DataFrame,
    mode: str,
    *,
    target_busy: float,
    test_days: float = 7,
    val_days: float = 7,
    pools: Mapping[str, PoolBounds] | PoolBounds = PoolBounds(),  # noqa: B008 - frozen, so immutable
    planners: Sequence[str | BaselinePlanner] = tuple(BASELINES),
    include_oracle: bool = True,
    lead_time: pd.Timedelta | str = "0s",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Plan the test window with each reference planner, its knob chosen on the validation window.

    ``frame`` is a regular series frame (``unique_id, ds, y``; demand in GPUs). Returns
    ``(plans, scores)``: plans has ``unique_id, ds, method, nodes`` over the test window; scores has one row
    per (unique_id, method) with the metrics of :mod:`capforecast.planning.scoring`, the chosen ``knob``,
    ``val_busy`` and ``met`` (busy <= target on the test window). ``lead_time`` moves the decisions as
    :func:`decision_schedule` describes (0 and, hourly, 1 h are the protocol's).
    """
    from capforecast.frames import regularize

    _check_mode(mode)
    frame = regularize(frame[["unique_id", "ds", "y"]])
    plans, scores = [], []
    objs = [p if isinstance(p, BaselinePlanner) else get_baseline(p) for p in planners]
    for uid, part in frame.groupby("unique_id", sort=True):
        part = part.sort_values("ds")
        pool = pools.get(str(uid), PoolBounds()) if isinstance(pools, Mapping) else pools
        ds = pd.DatetimeIndex(part["ds"])
        y = part["y"].to_numpy(float)
        yf = causal_fill(y)
        val_start, test_start, stop = split_windows(len(y), ds[1] - ds[0], test_days, val_days)
        val_dec = decision_schedule(ds, val_start, test_start, mode, lead_time=lead_time)
        test_dec = decision_schedule(ds, test_start, stop, mode, lead_time=lead_time)
        results = []
        for planner in objs:
            val_nodes = pool.nodes(planner.estimates(yf, ds, val_dec))
            k, _ = tune_knob(_busy(y[val_start:test_start], val_nodes, pool.gpus_per_node), target_busy)
            test_nodes = pool.nodes(planner.estimates(yf, ds, test_dec)[k])
            vb = float(_busy(y[val_start:test_start], val_nodes[k], pool.gpus_per_node))
            results.append((planner.name, test_nodes, planner.knobs[k], vb))
        if include_oracle:
            results.append(("oracle", pool.nodes(oracle_nodes(yf[test_start:stop], pool.gpus_per_node)
                                                 * pool.gpus_per_node), math.nan, math.nan))
        for name, nodes, knob, vb in results:
            plans.append(pd.DataFrame({"unique_id": str(uid), "ds": ds[test_start:stop], "method": name,
                                       "nodes": nodes.astype(int)}))
            s, met = score_window(y[test_start:stop], nodes, pool, target_busy, ds[1] - ds[0])
            scores.append({"unique_id": str(uid), "method": name, **s, "knob": knob, "val_busy": vb, "met": met})
    return pd.concat(plans, ignore_index=True), pd.DataFrame(scores)


# ---------------------------------------------------------------------------------------------- capforecast
def _check_arguments(pools: Any, method: Any, baselines: Any) -> tuple[list[Any], tuple[Any, ...]]:
    """The pools and baselines as a list and a tuple (a generator is read once); one line naming the fix for
    arguments of the wrong kind (before any work)."""
    from capforecast.planning.pools import pool_list

    pools = pool_list(pools)
    if not isinstance(method, ForecastMethod):
        raise PlanningError(f"method must be a ForecastMethod, got {method!r}; e.g. "
                            "method=ForecastMethod(model='seasonal_quantile')")
    if isinstance(baselines, str) or not isinstance(baselines, Iterable):
        raise PlanningError(f"baselines must be a list of planner names, got {baselines!r}; e.g. "
                            "baselines=('static', 'reactive')")
    baselines = tuple(baselines)
    for b in baselines:
        if not isinstance(b, BaselinePlanner):
            get_baseline(b)  # an unknown name is refused with the list of planners
    return pools, baselines


def _bounds(pool: Any) -> PoolBounds:
    return PoolBounds(gpus_per_node=pool.gpus_per_node, min_nodes=pool.min_nodes, max_nodes=pool.max_nodes,
                      price_per_node_hour=pool.price_per_node_hour)


def _warm_start(val_start: int, step: pd.Timedelta, days: float) -> int:
    """Where calibration scores start: ``days`` before the validation window, after at least 4 days of history
    (what the models need for a first fit), never after the validation window starts."""
    per_day = pd.Timedelta("1D") / step
    back = int(round(days * per_day))
    return max(val_start - back, min(val_start, int(round(4 * per_day))))


@_reported.once()  # a data warning (negative demand) is said once, not again by every fit of the walk
def simulate(
    frame: pd.DataFrame,
    pools: Sequence[Any],
    mode: str,
    *,
    test_days: float = 7,
    val_days: float = 7,
    method: ForecastMethod | None = None,
    baselines: Sequence[str] = ("static", "reactive", "seasonal_naive_max"),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Walk forward over the test window with capforecast's plan, the reference planners and the oracle.

    ``frame`` is a series frame of demand in GPUs; each of ``pools`` (:class:`~capforecast.planning.PoolSpec`)
    plans the series whose ``unique_id`` is its ``name``, aiming at its ``target_busy`` (``1 - quantile``).
    capforecast's plan: :class:`ForecastMethod`'s estimate, calibrated on the validation window by
    :func:`~capforecast.planning.calibrate.calibrate_headroom` into the pool's service-quantile column, then
    :func:`~capforecast.planning.plan_capacity` at each decision time (its rules and the pool's own headroom
    apply; the cooldown carries over from one decision to the next, as in one continuous plan). Returns
    ``(plans, scores)`` like :func:`simulate_baselines`, the rows of method ``"capforecast"`` first; its
    ``knob`` is the calibrated headroom. The reference planners' knobs are chosen on the validation window as in
    :func:`simulate_baselines`, and their test-window plans then follow the same rules and budget
    (:func:`~capforecast.planning._rules.baselines_under_rules`): without rules they are that function's.

    Examples
    --------
    >>> from capforecast.planning import PoolSpec
    >>> ds = pd.date_range("2020-05-01", periods=24 * 12, freq="h", tz="UTC")
    >>> y = 40 + 20 * np.sin(np.arange(len(ds)) * 2 * np.pi / 24)
    >>> frame = pd.DataFrame({"unique_id": "pool-a", "ds": ds, "y": y})
    >>> pool = PoolSpec(name="pool-a", gpus_per_node=8, min_nodes=0, max_nodes=20, lead_time="0s",
    ...                 scale_in_cooldown="0s", target_busy=0.05)
    >>> plans, scores = simulate(frame, [pool], "nightly", test_days=2, val_days=2)
    >>> scores["method"].tolist()[:2], bool(scores["met"].iloc[0])
    (['capforecast', 'static'], True)
    """
    from capforecast.frames import regularize

    _check_mode(mode)
    method = method or ForecastMethod()
    budget = getattr(pools, "budget", None)  # a PoolSet's shared GPU cap applies to capforecast's plan
    listed, baselines = _check_arguments(pools, method, baselines)
    frame = regularize(frame)[["unique_id", "ds", "y"]]
    have = set(frame["unique_id"].astype(str))
    pools = [p for p in listed if p.name in have]
    if not pools:
        raise PlanningError(
            f"no pool is named like a series of the input ({', '.join(sorted(have)[:5])}); "
            "name each pool after the unique_id of its demand series"
        )
    layout, warm_dec, val_dec, test_dec = {}, {}, {}, {}
    for pool in pools:
        part = frame[frame["unique_id"] == pool.name]
        ds = pd.DatetimeIndex(part["ds"])
        y = part["y"].to_numpy(float)
        windows = split_windows(len(y), ds[1] - ds[0], test_days, val_days)
        layout[pool.name] = (ds, y, causal_fill(y), *windows)
        warm = _warm_start(windows[0], ds[1] - ds[0], method.calibration_days)
        warm_dec[pool.name] = decision_schedule(ds, warm, windows[0], mode, lead_time=pool.lead_time) \
            if warm < windows[0] else []
        val_dec[pool.name] = decision_schedule(ds, windows[0], windows[1], mode, lead_time=pool.lead_time)
        test_dec[pool.name] = decision_schedule(ds, windows[1], windows[2], mode, lead_time=pool.lead_time)
    fits = sorted({method.fit_key(d, mode) for dec in (warm_dec, val_dec, test_dec) for v in dec.values()
                   for d in v})
    forecasts = method.forecasts(frame[frame["unique_id"].isin(list(layout))], fits)
    bases, knobs, levels = {}, {}, {}
    for pool in pools:
        ds, y, yf, val_start, test_start, stop = layout[pool.name]
        decisions = [*warm_dec[pool.name], *val_dec[pool.name], *test_dec[pool.name]]
        start = int(decisions[0].targets[0])
        est, leads = method.estimates(pool.name, yf, ds, decisions, mode, forecasts)
        walk = [*val_dec[pool.name], *test_dec[pool.name]]  # the level adapts from the validation window on
        planned, used, level = method.calibrated(est, leads, y, ds, start, walk, 1.0 - pool.service_quantile,
                                                 _bounds(pool), window_steps=stop - test_start)
        n_val = len(val_dec[pool.name])
        bases[pool.name] = planned[test_start - val_start:]
        knobs[pool.name] = float(np.mean(used[n_val:]))
        levels[pool.name] = float(level[-1])
    planned_nodes, capped = plan_window(test_dec, bases, layout, pools, budget)
    reference = {}
    for pool in pools:  # knobs chosen on the validation window, as the protocol does
        reference[pool.name] = simulate_baselines(
            frame[frame["unique_id"] == pool.name], mode, target_busy=1.0 - pool.service_quantile,
            test_days=test_days, val_days=val_days, pools=_bounds(pool), planners=baselines,
            lead_time=pool.lead_time,
        )
    reference = baselines_under_rules(reference, test_dec, layout, pools, budget)
    plans, scores = [], []
    for pool in pools:
        ds, y, yf, val_start, test_start, stop = layout[pool.name]
        target = 1.0 - pool.service_quantile
        nodes = planned_nodes[pool.name]
        plans.append(pd.DataFrame({"unique_id": pool.name, "ds": ds[test_start:stop], "method": method.name,
                                   "nodes": nodes.astype(int)}))
        s, met = score_window(y[test_start:stop], nodes, pool, target, ds[1] - ds[0])
        scores.append({"unique_id": pool.name, "method": method.name, **s, "knob": knobs[pool.name],
                       "val_busy": math.nan, "met": met,
                       "level": levels[pool.name], "capped_steps": capped[pool.name]})
        bplans, bscores = reference[pool.name]
        plans.append(bplans)
        scores.extend(bscores.to_dict("records"))
    return pd.concat(plans, ignore_index=True), pd.DataFrame(scores)
