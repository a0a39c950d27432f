"""Turn a Plan (capacity to hold per step) into reservation windows: what to request, and from when.

A node asked for at time ``e`` is ready at ``e + lead_time``. So the request in force at ``e`` must cover every
step that overlaps ``[e, e + lead_time]``: the need that is starting now (never released early) and the need
that the new nodes will meet when they arrive. Requests therefore change at ``ds - lead_time`` (scale-up,
early enough) and at ``ds`` (scale-in, not before the need has passed). Consecutive instants with the same
request for every pool merge into one window; each window becomes one kustomize overlay.
"""

from __future__ import annotations

import math
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


def _spare(rows: pd.DataFrame) -> np.ndarray:
    expected = rows["expected"].to_numpy(dtype=float) if "expected" in rows else np.zeros(len(rows))
    expected = np.nan_to_num(expected, nan=0.0)
    return np.maximum(rows["gpus"].to_numpy(dtype=float) - np.floor(expected), 0.0).astype(np.int64)


def reservation_windows(plan: pd.DataFrame, pools: Sequence[PoolSpec], *, align: bool = True) -> pd.DataFrame:
    """Reservation windows of ``plan``: one row per (window, pool), windows in time order.

    With ``align`` (default) every pool's requests go out the *largest* lead time of the pools ahead, so pools
    with different lead times change in the same windows (36 windows instead of 51 for the example pools over
    a day), at the cost of holding a new node a few minutes longer; ``align=False`` uses each pool's own.

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
        lead = leads[name]
        series[name] = (rows, pd.DatetimeIndex(rows["ds"]), _spare(rows))
        events.update(rows["ds"])
        events.update(rows["ds"] - lead)
    end = max(s[1][-1] for s in series.values()) + step
    times = sorted(t for t in events if t < end)
    records = []
    prev_key = None
    window = -1
    for e in times:
        vals = {}
        for name in names:
            rows, ds, spare = series[name]
            pool = by_name[name]
            hit = np.flatnonzero((ds <= e + leads[name]) & (ds + step > e))
            if len(hit) == 0:  # before the plan's first request or after its end: keep the nearest step
                hit = np.array([0 if e < ds[0] else len(ds) - 1])
            j = hit[int(np.argmax(rows["nodes"].to_numpy()[hit]))]
            nodes = int(rows["nodes"].to_numpy()[hit].max())
            gpus = nodes * pool.gpus_per_node
            sp = int(spare[hit].max())
            gpr = int(pool.hpa.get("gpus_per_replica", 1)) if pool.hpa else 1
            vals[name] = (nodes, gpus, sp, math.ceil(sp / pool.placeholder_gpus), math.ceil(gpus / gpr),
                          str(rows["reason"].iloc[j]))
        key = tuple(v[:5] for v in vals.values())
        if key != prev_key:
            window += 1
            prev_key = key
            for name, v in vals.items():
                records.append((window, e, name, *v))
    out = pd.DataFrame.from_records(
        records, columns=["window", "apply_at", "unique_id", "nodes", "gpus", "spare_gpus",
                          "placeholder_replicas", "hpa_min_replicas", "reason"]
    )
    starts = out.groupby("window")["apply_at"].first()
    out["until"] = out["window"].map(starts.shift(-1).fillna(end))
    return out[list(WINDOW_COLUMNS)]
