"""The report's "what really happened" part: earlier plans against the demand observed since.

One table row per pool (realised busy, unmet share and cost against the oracle, last day and last 7 days, the
flag) and one figure per pool of the observed demand against the capacity the plans in force held, busy
steps marked. Input: a :class:`~capforecast.planning.realised.Realised`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast.planning.pools import PoolSpec
from capforecast.planning.realised import Realised

__all__ = ["plot_realised", "realised_lines"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def plot_realised(path: Path, pool: PoolSpec, steps: pd.DataFrame, summary: dict[str, Any]) -> None:
    """Draw the observed demand and the planned capacity of ``pool`` (``Realised.steps`` rows) to ``path``."""
    from matplotlib.figure import Figure  # not pyplot: the caller's backend and figures stay as they are

    fig = Figure(figsize=(11, 3.6), dpi=100)
    ax = fig.subplots()
    ax.step(steps["ds"], steps["capacity"], where="post", color="tab:red", lw=1.8, label="planned capacity (GPUs)")
    ax.step(steps["ds"], steps["y"], where="post", color="0.2", lw=1.0, label="observed demand (GPUs)")
    busy = steps[steps["busy"].astype(bool)]
    if len(busy):
        ax.scatter(busy["ds"], busy["y"], marker="x", color="tab:red", zorder=5,
                   label=f"busy steps ({len(busy)} of {len(steps)})")
    week = summary["last_7_days"]
    flag = ", FLAGGED" if summary["flagged"] else ""
    ax.set_title(f"{pool.name}: what the earlier plans held against the demand observed (7 days: busy "
                 f"{_pct(week['busy_ratio'])}, target {summary['target']:.0%}{flag})")
    ax.set_ylabel("GPUs")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)


def realised_lines(realised: Realised | None, pools: Sequence[PoolSpec]) -> list[str]:
    """The markdown of the "What really happened" section (a sentence when nothing could be scored)."""
    lines = ["## What really happened (earlier plans against the demand observed since)", ""]
    scored = {} if realised is None else realised.summary["pools"]
    if not scored:
        return lines + ["No earlier plan covers observed demand yet: nothing to score.", ""]
    as_of = pd.Timestamp(realised.summary["as_of"]) if realised is not None else None
    when = f" up to the step of {as_of:%Y-%m-%d %H:%M} UTC" if as_of is not None else ""
    lines += [
        f"Realised busy = share of observed steps where demand exceeded the capacity the plans in force held{when}; "
        "unmet = unserved GPU demand / all demand; cost = planned GPUs / the oracle's (exactly enough nodes each "
        "step). A pool over its target on too many of the last 7 days is flagged and planned at a stricter level.",
        "",
        "| pool | target busy | busy, last day | busy, 7 days | unmet, 7 days | cost vs oracle, 7 days | steps "
        "(day / 7 days) | days over target | flagged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by_name = {p.name: p for p in pools}
    for name, s in scored.items():
        day, week = s["last_day"], s["last_7_days"]
        flag = "no"
        if s["flagged"]:
            pool = by_name.get(name)
            flag = "**yes**" + (f": planned at quantile {pool.service_quantile:g}" if pool is not None else "")
        lines.append(f"| {name} | {s['target']:.0%} | {_pct(day['busy_ratio'])} | {_pct(week['busy_ratio'])} | "
                     f"{_pct(week['unmet_share'])} | {_ratio(week['cost_ratio'])} | {day['steps']} / "
                     f"{week['steps']} | {s['days_over_target']} | {flag} |")
    return lines + [""]
