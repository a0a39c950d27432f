"""Scoring the plans of earlier runs (``runs/<date>/plan.csv``) against the demand observed since.

The result is written as ``realised.json`` in the run directory, shown in the report and the job metrics, and
fed into the plan: a pool flagged for a realised busy above its target plans at a stricter level
(:func:`~capforecast.planning.realised.widen_pool`) until those days leave the 7-day window.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast._io import write_text
from capforecast.config import Config
from capforecast.errors import CapforecastError
from capforecast.pipeline._result import RunResult, logger
from capforecast.planning.pools import PoolSet
from capforecast.planning.realised import Realised, score_realised, widen_pool

REALISED_FILE = "realised.json"


def _earlier_plans(cfg: Config) -> list[pd.DataFrame]:
    """The plans published by the runs kept in ``runs/`` (oldest first); an unreadable one is a warning."""
    from capforecast.planning.plan_file import read_plan

    runs_dir = cfg.output.runs_dir
    if not runs_dir.is_dir():
        return []
    plans = []
    for run in sorted(d for d in runs_dir.iterdir() if d.is_dir() and not d.name.startswith(".")):
        path = run / "plan.csv"
        if not path.is_file():
            continue
        try:
            plans.append(read_plan(path))
        except CapforecastError as exc:  # one bad file loses that day's score, not the run
            logger.warning("nightly: not scoring the earlier plan %s: %s", path, str(exc).splitlines()[0])
    return plans


def _score_earlier(cfg: Config, frame: pd.DataFrame, end: pd.Timestamp, result: RunResult) -> Realised:
    """Realised busy, unmet share and cost of the earlier plans up to ``end`` (the newest observed step)."""
    realised = score_realised(_earlier_plans(cfg), frame, cfg.pool_specs(), end=end,
                              flag_after_days=cfg.realised.flag_after_days)
    result.realised = realised.summary["pools"]
    for pool in realised.flagged():
        s = realised.summary["pools"][pool]
        result.notes.append(
            f"pool {pool}: realised busy above its target {s['target']:.0%} on {s['days_over_target']} of the "
            f"last 7 days ({s['last_7_days']['busy_ratio']:.1%} over the 7 days); planning it at a stricter level"
        )
    return realised


def _planned_pools(cfg: Config, realised: Realised, result: RunResult, models: Sequence[Any]) -> PoolSet:
    """The pools to plan with: flagged ones widened (``realised.widen``), the others as configured.

    Every model forecasts every pool's level, so a widened level stays within the levels each trained model can
    give (GBM and LSTM learn a grid, ``levels_``); a pool that cannot be widened further is said so in the notes.
    """
    pools = cfg.pool_specs()
    flagged = set(realised.flagged())
    if not flagged or cfg.realised.widen >= 1:
        return pools
    top = min((max(m.levels_) for m in models if getattr(m, "levels_", None)), default=1.0)
    out = []
    for p in pools:
        if p.name not in flagged:
            out.append(p)
            continue
        wide = widen_pool(p, cfg.realised.widen)
        if wide.service_quantile > top:
            wide = dataclasses.replace(p, quantile=top) if top > p.service_quantile else p
            result.notes.append(
                f"pool {p.name}: widened only to quantile {wide.service_quantile:g}, the highest level the trained "
                f"models give; add higher levels to their 'quantiles' parameter (models.params) to widen further"
            )
        if wide is not p:
            result.champions.setdefault(p.name, {"model": None})["widened_quantile"] = wide.service_quantile
            logger.info("nightly: pool %s: realised busy above target; quantile %g -> %g", p.name,
                        p.service_quantile, wide.service_quantile)
        out.append(wide)
    return PoolSet(out, pools.budget)


def _write_realised(run_dir: Path, realised: Realised) -> Path:
    """``run_dir/realised.json`` (see docs/outputs.md for the schema)."""
    return write_text(run_dir / REALISED_FILE, json.dumps(realised.summary, indent=2, allow_nan=False) + "\n")
