"""Reading back a plan (``plan.csv`` written by ``capforecast plan`` or the nightly job) or a frame with times.

One reader for every place that takes an earlier plan: ``plan --previous-plan``, ``plan``'s own ``OUT/plan.csv``
and the nightly job's ``latest/plan.csv``. A file that is not a plan is a :class:`PlanningError` naming the
file and what is wrong with it; each caller decides whether that stops it or is a warning.

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "plan.csv"
>>> _ = path.write_text("unique_id,ds,nodes\\na100,2026-05-01T00:00:00Z,4\\n")
>>> read_plan(path)["nodes"].tolist()
[4]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from capforecast.errors import FrameError, PlanningError

__all__ = ["read_plan", "read_timed_frame"]


def read_timed_frame(path: str | Path, what: str) -> pd.DataFrame:
    """Read the CSV/parquet ``path`` with its ``ds`` column as UTC times and ``unique_id`` as str."""
    from capforecast.ingest.files import read_table

    df = read_table(path)
    if "ds" not in df.columns:
        raise FrameError(f"{path}: no 'ds' column in this {what}; the file has {list(df.columns)}")
    try:
        df["ds"] = pd.to_datetime(df["ds"], utc=True)
    except (ValueError, TypeError):
        raise FrameError(f"{path}: column 'ds' has values that are not times; write RFC 3339 such as "
                         "2026-05-01T00:00:00Z") from None
    if "unique_id" in df.columns:
        df["unique_id"] = df["unique_id"].astype(str)
    return df


def read_plan(path: str | Path) -> pd.DataFrame:
    """Read an earlier plan, checked: ``unique_id``, ``ds`` (times) and whole, non-negative ``nodes``.

    Raises a :class:`~capforecast.errors.CapforecastError` naming the file when it cannot be read or is not a
    plan.
    """
    df = read_timed_frame(path, "plan")
    missing = [c for c in ("unique_id", "ds", "nodes") if c not in df.columns]
    if missing:
        raise PlanningError(f"{path} is not a plan: column(s) {missing} missing (it has {list(df.columns)[:8]})")
    nodes = pd.to_numeric(df["nodes"], errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(nodes) | (nodes < 0) | (nodes != np.round(nodes))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PlanningError(f"{path} is not a plan: 'nodes' must be whole numbers >= 0, line {i + 2} has "
                            f"{df['nodes'].iloc[i]!r}")
    return df.assign(nodes=nodes.astype("int64"))
