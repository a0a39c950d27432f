"""The plan as JSON (``OUT/plan.json``): pools, their reservation windows and every planned step."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from capforecast._io import write_text
from capforecast._units import format_time
from capforecast.emit.schedule import reservation_windows
from capforecast.planning.pools import PoolSpec

__all__ = ["write_plan_json"]


def write_plan_json(plan: pd.DataFrame, pools: Sequence[PoolSpec], out_dir: str | os.PathLike[str]) -> Path:
    """Write ``out_dir/plan.json`` atomically: ``{"pools": {name: {"steps": [...], "windows": [...]}}}``."""
    from capforecast.emit.overlay import require_plan

    require_plan(plan)
    planned = set(plan["unique_id"].astype(str))  # once, not once per pool
    pools = [p for p in pools if p.name in planned]
    windows = reservation_windows(plan, pools)
    doc: dict[str, dict] = {"pools": {}}
    plans = {str(k): g for k, g in plan.groupby(plan["unique_id"].astype(str), sort=False)}  # one pass each
    by_window = {str(k): g for k, g in windows.groupby("unique_id", sort=False)}
    for pool in pools:
        steps, wins = plans[pool.name], by_window.get(pool.name, windows.iloc[:0])
        doc["pools"][pool.name] = {
            "gpus_per_node": pool.gpus_per_node,
            "service_quantile": pool.service_quantile,
            "lead_time_seconds": int(pool.lead_time.total_seconds()),
            "steps": [{"ds": format_time(r.ds), "nodes": int(r.nodes), "gpus": int(r.gpus), "reason": str(r.reason)}
                      for r in steps.itertuples()],
            "windows": [{"apply_at": format_time(r.apply_at), "until": format_time(r.until), "nodes": int(r.nodes),
                         "spare_gpus": int(r.spare_gpus)} for r in wins.itertuples()],
        }
    return write_text(Path(out_dir) / "plan.json", json.dumps(doc, indent=1) + "\n")
