"""Turn a Plan (capacity to hold per step) into reservation windows: what to request, and from when.

A node asked for at time ``e`` is ready at ``e + lead_time``. So the request in force at ``e`` must cover every
step that overlaps ``[e, e + lead_time]``: the need that is starting now (never released early) and the need
that the new nodes will meet when they arrive. Requests therefore change at ``ds - lead_time`` (scale-up,
early enough) and at ``ds`` (scale-in, not before the need has passed). Consecutive instants with the same
request for every pool merge into one window; each window becomes one kustomize overlay. A pool with a
``min_window`` holds its spare GPUs (placeholder pods) at the most any step of a window needs, so its request
changes only when its nodes do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from capforecast.errors import PlanningError
from capforecast.planning.pools import PoolSpec

__all__ = ["WINDOW_COLUMNS", "plan_step", "reservation_windows"]

WINDOW_COLUMNS = (
    "window", "apply_at", "until", "unique_id", "nodes", "gpus", "spare_gpus",
    "placeholder_replicas", "hpa_min_replicas", "reason",
)


def plan_step(plan: pd.DataFrame) -> pd.Timedelta:
    """The step of a plan (smallest spacing of its ``ds``; one hour for a single-step plan)."""
    diffs = pd.Series(sorted(plan["ds"].unique())).diff().dropna()
    diffs = diffs[diffs > pd.Timedelta(0)]
    return diffs.min() if len(diffs) else pd.Timedelta(hours=1)


def _spare(rows: pd.DataFrame, per_window: bool = False) -> np.ndarray:
    """Spare GPUs per step (planned minus expected use); with ``per_window``, the most of each run of equal
    nodes (a ``min_window`` window holds one request: never fewer placeholders than a step of it needs)."""
    expected = rows["expected"].to_numpy(dtype=float) if "expected" in rows else np.zeros(len(rows))
    expected = np.nan_to_num(expected, nan=0.0)
    spare = np.maximum(rows["gpus"].to_numpy(dtype=float) - np.floor(expected), 0.0).astype(np.int64)
    if per_window and len(spare):
        nodes = rows["nodes"].to_numpy()
        starts = np.flatnonzero(np.r_[True, nodes[1:] != nodes[:-1]])
        spare = np.repeat(np.maximum.reduceat(spare, starts), np.diff(np.r_[starts, len(spare)]))
    return spare


def reservation_windows(plan: pd.DataFrame, pools: Sequence[PoolSpec], *, align: bool = True) -> pd.DataFrame:
    """Reservation windows of ``plan``: one row per (window, pool), windows in time order.

    With ``align`` (default) every pool's requests go out the *largest* lead time of the pools ahead, so pools
    with different lead times change in the same windows (for the example pools over a day: 17 windows instead
    of 20 with their ``min_window``, 36 instead of 51 with ``0s``), at the cost of holding a new node a few
    minutes longer; ``align=False`` uses each pool's own.

    Columns: ``window`` (0, 1, ...), ``apply_at`` (when the window's overlay must be in force), ``until``,
    ``unique_id``, ``nodes`` / ``gpus`` (capacity to request), ``spare_gpus`` (capacity above the expected
    use, what placeholder pods and CapacityBuffers hold), ``placeholder_replicas``, ``hpa_min_replicas``
    and ``reason`` (of the step that sets the request).

    Examples
    --------
    >>> import pandas as pd
    >>> from capforecast.planning import PoolSpec
    >>> pool = PoolSpec(name="a", gpus_per_node=8, min_nodes=0, max_nodes=9, lead_time="15m")
    >>> plan = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2026-05-01", periods=3, freq="h", tz="UTC"),
    ...                      "nodes": [1, 3, 1], "gpus": [8, 24, 8], "reason": ["r0", "r1", "r2"]})
    >>> w = reservation_windows(plan, [pool])
    >>> [(f"{t:%H:%M}", n) for t, n in zip(w["apply_at"], w["nodes"])]
    [('23:45', 1), ('00:45', 3), ('02:00', 1)]
    """
    by_name = {p.name: p for p in pools}
    groups = {str(k): g for k, g in plan.groupby(plan["unique_id"].astype(str), sort=False)}  # one pass
    names = [n for n in by_name if n in groups]
    if not names:
        raise PlanningError("the plan has no rows for any pool in the pools file; plan with the same pools file")
    step = plan_step(plan)
    max_lead = max(by_name[n].lead_time for n in names)
    leads = {n: max_lead if align else by_name[n].lead_time for n in names}
    series = {}
    events: set[pd.Timestamp] = set()
    for name in names:
        rows = groups[name].sort_values("ds").reset_index(drop=True)
        per_window = by_name[name].min_window > step
        series[name] = (rows, pd.DatetimeIndex(rows["ds"]), _spare(rows, per_window))
        events.update(rows["ds"])
        events.update(rows["ds"] - leads[name])
    end = max(s[1][-1] for s in series.values()) + step
    times = pd.DatetimeIndex(sorted(t for t in events if t < end))
    # per pool and event: the largest request among the steps that start within (event - step, event + lead]
    # (the nearest step before the plan's first request or after its end); vectorised over events
    cols, reasons = [], []
    for name in names:
        rows, ds, spare = series[name]
        pool = by_name[name]
        lo = ds.searchsorted(times - step, side="right")
        hi = ds.searchsorted(times + leads[name], side="right")
        none = hi <= lo
        lo = np.where(none, np.where(times < ds[0], 0, len(ds) - 1), lo)
        hi = np.where(none, lo + 1, hi)
        idx = lo[:, None] + np.arange(int((hi - lo).max()))[None, :]
        valid = idx < hi[:, None]
        idx = np.minimum(idx, len(ds) - 1)
        node_m = np.where(valid, rows["nodes"].to_numpy()[idx], np.iinfo(np.int64).min)
        j = idx[np.arange(len(idx)), node_m.argmax(axis=1)]  # the first step with the most nodes
        nodes = node_m.max(axis=1).astype(np.int64)
        gpus = nodes * pool.gpus_per_node
        sp = np.where(valid, spare[idx], np.iinfo(np.int64).min).max(axis=1)
        gpr = int(pool.hpa.get("gpus_per_replica", 1)) if pool.hpa else 1
        cols.append(np.stack([nodes, gpus, sp, -(-sp // pool.placeholder_gpus), -(-gpus // gpr)]))
        reasons.append(rows["reason"].astype(str).to_numpy()[j])
    values = np.stack(cols)  # (pool, field, event)
    new = np.ones(len(times), dtype=bool)
    new[1:] = (values[:, :, 1:] != values[:, :, :-1]).any(axis=(0, 1))
    starts = np.flatnonzero(new)
    records = [
        (w, times[e], name, *map(int, values[k, :, e]), str(reasons[k][e]))
        for w, e in enumerate(starts)
        for k, name in enumerate(names)
    ]
    out = pd.DataFrame.from_records(
        records, columns=["window", "apply_at", "unique_id", "nodes", "gpus", "spare_gpus",
                          "placeholder_replicas", "hpa_min_replicas", "reason"]
    )
    starts = out.groupby("window")["apply_at"].first()
    out["until"] = out["window"].map(starts.shift(-1).fillna(end))
    return out[list(WINDOW_COLUMNS)]
