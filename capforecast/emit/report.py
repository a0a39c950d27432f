"""The ops report: ``OUT/report.md`` plus one PNG per pool under ``OUT/report/`` (a fleet: see below).

Per pool: a plot of recent history, the forecast band and the planned capacity; the reservation windows with
nodes and reasons; the expected busy share and cost against a static plan; what changed since the previous
plan; and who was cut by the budget. The expected busy share is read off the forecast's own quantiles
(``P(demand > capacity)`` interpolated between quantile levels), so it is an estimate, bounded by the levels
the forecast has (shown with ``<=`` when capacity is above the highest quantile).

A fleet (more than :data:`FLEET_POOLS` pools) gets one summary row per pool, and a section (with a plot, up to
:data:`MAX_FLEET_PLOTS`) only for the pools that need a look: the previous plan missed (demand above it more
often than the target since), the new one may miss or is capped or cut, or its node-hours changed by 10 % or more.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from capforecast import frames
from capforecast._io import atomic_dir, write_text
from capforecast._units import format_duration
from capforecast.emit._names import dns_name
from capforecast.emit.realised_report import plot_realised, realised_lines
from capforecast.emit.schedule import plan_step, reservation_windows
from capforecast.errors import PlanningError
from capforecast.planning.planner import static_nodes
from capforecast.planning.pools import PoolSpec
from capforecast.planning.realised import Realised

__all__ = ["expected_busy", "write_report"]

_MAX_WINDOW_ROWS = 40
#: more pools than this make a fleet report: every pool in the summary, a section and a plot only for the pools
#: that missed, may miss (expected busy above target), are capped or cut, or whose plan changed by FLEET_CHANGE
FLEET_POOLS = 32
FLEET_CHANGE = 0.10  # a change of node-hours over the steps both plans cover that counts as changed
MAX_FLEET_PLOTS = 50  # plots in a fleet report (the rest of those pools get their section without one)


def expected_busy(forecast: pd.DataFrame, capacity: np.ndarray) -> tuple[float, str]:
    """Mean over steps of ``P(demand > capacity)`` from the forecast quantiles, and ``'<='``/``'>='``/``'~'``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> fc = pd.DataFrame({"p50": [10.0, 10.0], "p90": [20.0, 20.0]})
    >>> expected_busy(fc, np.array([15.0, 30.0]))
    (0.2, '<=')
    """
    levels = frames.quantile_columns(forecast)
    if not levels:
        return float("nan"), "~"
    q = np.array(list(levels))
    values = forecast[list(levels.values())].to_numpy(dtype=float)
    cap = np.asarray(capacity, dtype=float)
    busy = np.empty(len(cap))
    for i in range(len(cap)):
        v, idx = np.unique(values[i], return_index=True)
        busy[i] = 1.0 - (np.interp(cap[i], v, q[idx]) if len(v) > 1 else (q[-1] if cap[i] >= v[0] else q[0]))
    above, below = (cap > values[:, -1]).any(), (cap < values[:, 0]).any()
    return float(busy.mean()), "<=" if above and not below else ">=" if below and not above else "~"


def _pct(value: float, sign: str = "~") -> str:
    return "n/a" if np.isnan(value) else f"{'' if sign == '~' else sign + ' '}{100 * value:.1f} %"


def _plot(path: Path, pool: PoolSpec, hist: pd.DataFrame | None, fc: pd.DataFrame, plan: pd.DataFrame,
          static_gpus: float) -> None:
    from matplotlib.figure import Figure  # not pyplot: the caller's backend and figures stay as they are

    fig = Figure(figsize=(11, 4.2), dpi=100)
    ax = fig.subplots()
    if hist is not None and len(hist):
        ax.plot(hist["ds"], hist["y"], color="0.25", lw=1.0, label="history (GPUs demanded)")
    levels = frames.quantile_columns(fc)
    if len(levels) >= 2:
        lo, hi = list(levels.items())[0], list(levels.items())[-1]
        ax.fill_between(fc["ds"], fc[lo[1]], fc[hi[1]], color="tab:blue", alpha=0.2, step=None,
                        label=f"forecast band {lo[1]}-{hi[1]}")
    ax.plot(fc["ds"], fc["yhat"], color="tab:blue", lw=1.2, label="forecast (yhat)")
    col = frames.quantile_column(pool.service_quantile)
    if col in fc:
        ax.plot(fc["ds"], fc[col], color="tab:blue", lw=1.0, ls="--", label=f"service quantile {col}")
    ax.step(plan["ds"], plan["gpus"], where="post", color="tab:red", lw=2.0, label="planned capacity (GPUs)")
    capped = plan[plan["capped"].astype(bool)] if "capped" in plan else plan.iloc[:0]
    if len(capped):
        ax.scatter(capped["ds"], capped["gpus"], marker="^", color="black", zorder=5, label="forecast above max_nodes")
    top = max(float(np.nanmax(plan["gpus"])), static_gpus, float(np.nanmax(fc[list(levels.values()) or ["yhat"]])),
              float(np.nanmax(hist["y"])) if hist is not None and hist["y"].notna().any() else 0.0)
    cap = pool.max_nodes * pool.gpus_per_node
    if cap <= 1.5 * top:
        ax.axhline(cap, color="tab:red", ls=":", lw=1, label=f"max_nodes ({cap} GPUs)")
    else:  # far above the data: say so instead of squashing the plot
        ax.plot([], [], color="tab:red", ls=":", lw=1, label=f"max_nodes ({cap} GPUs, off the chart)")
    ax.axhline(static_gpus, color="tab:green", ls="-.", lw=1, label="static plan")
    ax.set_title(f"{pool.name}: GPU demand and planned capacity (target busy {pool.target_busy:.0%}"
                 f"{'' if pool.quantile is None else f', quantile {pool.quantile:g}'})")
    ax.set_ylabel("GPUs")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, ncol=2, framealpha=0.85)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)


def _changes(plan: pd.DataFrame, previous: pd.DataFrame | None, pool: PoolSpec, hours: float) -> tuple[str, float]:
    """What changed since the previous plan, and the relative change of node-hours over the overlapping steps."""
    if previous is None:
        return "first plan (no previous plan given)", 0
    prev = previous[previous["unique_id"].astype(str) == pool.name][["ds", "nodes"]]
    both = plan[["ds", "nodes"]].merge(prev, on="ds", suffixes=("", "_prev"))
    if both.empty:
        return "no overlap with the previous plan", 0
    diff = both["nodes"] - both["nodes_prev"]
    changed = int((diff != 0).sum())
    if not changed:
        return f"unchanged on the {len(both)} overlapping steps", 0
    i = int(np.argmax(np.abs(diff.to_numpy())))
    return (f"{changed} of {len(both)} steps changed; node-hours {both['nodes_prev'].sum() * hours:.0f} -> "
            f"{both['nodes'].sum() * hours:.0f}; largest {int(diff.iloc[i]):+d} nodes at "
            f"{both['ds'].iloc[i]:%Y-%m-%d %H:%M}"), abs(both["nodes"].sum() / max(both["nodes_prev"].sum(), 1) - 1)


def _missed(previous: pd.DataFrame | None, hist: pd.DataFrame | None) -> float:
    """Share of the previous plan's steps, among those observed since, where demand exceeded its capacity."""
    if previous is None or hist is None or previous.empty:
        return float("nan")
    both = previous[["ds", "gpus"]].merge(hist[["ds", "y"]].dropna(), on="ds")
    return float((both["y"] > both["gpus"]).mean()) if len(both) else float("nan")


def _groups(frame: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """``{pool: its rows}`` in one pass (not one scan of the whole frame per pool)."""
    if frame is None:
        return {}
    return {str(k): g for k, g in frame.groupby(frame["unique_id"].astype(str), sort=False)}


def _runs(w: pd.DataFrame) -> pd.DataFrame:
    """Merge consecutive windows of one pool with the same nodes (changes of other pools or of spare GPUs)."""
    run = (w["nodes"] != w["nodes"].shift()).cumsum()
    merged = w.groupby(run, sort=True).agg(
        apply_at=("apply_at", "first"), until=("until", "last"), nodes=("nodes", "first"),
        gpus=("gpus", "first"), spare_lo=("spare_gpus", "min"), spare_hi=("spare_gpus", "max"),
        reason=("reason", "first"),
    )
    return merged.reset_index(drop=True)


def _section(pool: PoolSpec, p: pd.DataFrame, w: pd.DataFrame, png: str | None, changes: str,
             realised_png: str | None = None) -> list[str]:
    lines = [f"## {pool.name}", ""]
    if png:
        lines += [f"![{pool.name}: history, forecast band and planned capacity]({png})", ""]
    if realised_png:
        lines += [f"![{pool.name}: observed demand against the capacity earlier plans held]({realised_png})", ""]
    lines += [f"- what changed since the previous plan: {changes}"]
    n_cap = int(p["capped"].sum()) if "capped" in p else 0
    if n_cap:
        first = p[p["capped"].astype(bool)]["ds"].iloc[0]
        lines.append(f"- **the forecast wants more than max_nodes ({pool.max_nodes}) on {n_cap} step(s)**, "
                     f"first at {first:%Y-%m-%d %H:%M}; raise max_nodes or accept a busy cluster then")
    lines += ["", "| apply at (UTC) | until | nodes | GPUs | spare GPUs | reason |", "|---|---|---|---|---|---|"]
    for r in w.head(_MAX_WINDOW_ROWS).itertuples():
        spare = f"{r.spare_lo}" if r.spare_lo == r.spare_hi else f"{r.spare_lo}-{r.spare_hi}"
        lines.append(f"| {r.apply_at:%m-%d %H:%M} | {r.until:%m-%d %H:%M} | {r.nodes} | {r.gpus} | {spare} | "
                     f"{str(r.reason).replace('|', '/')} |")
    if len(w) > _MAX_WINDOW_ROWS:
        lines.append(f"\n... {len(w) - _MAX_WINDOW_ROWS} more windows in k8s/schedule.yaml")
    return lines


def write_report(
    out_dir: str | os.PathLike[str],
    *,
    plan: pd.DataFrame,
    pools: Sequence[PoolSpec],
    forecast: pd.DataFrame,
    history: pd.DataFrame | None = None,
    previous_plan: pd.DataFrame | None = None,
    history_days: float = 7,
    realised: Realised | None = None,
) -> Path:
    """Write ``out_dir/report.md`` and ``out_dir/report/<pool>.png``; return the markdown path.

    The static plan compared against holds, for the whole horizon, the nodes for the service quantile of the
    last 14 days of ``history`` (or, without history, the plan's own peak). With ``realised`` (the earlier plans
    scored against the demand observed since, :func:`~capforecast.planning.realised.score_realised`), the report
    says what really happened, with ``report/<pool>-realised.png`` per scored pool.
    """
    planned = set(plan["unique_id"].astype(str))  # once, not once per pool
    pools = [p for p in pools if p.name in planned]
    if not pools:
        raise PlanningError("report: the plan has no rows for the given pools; pass the plan and its pools file")
    fc_all = frames.validate_forecast(forecast)
    step = plan_step(plan)
    hours = step / pd.Timedelta(hours=1)
    windows = reservation_windows(plan, pools)
    start, end = plan["ds"].min(), plan["ds"].max() + step
    summary, sections, cuts, attention = [], [], [], []
    plans, fcs, hists, wins, prevs = (_groups(f) for f in (plan, fc_all, history, windows, previous_plan))
    fleet = len(pools) > FLEET_POOLS
    out = Path(out_dir)
    with atomic_dir(out / "report") as figdir:
        for pool in pools:
            p = plans[pool.name].sort_values("ds")
            fc = fcs.get(pool.name, fc_all.iloc[:0]).sort_values("ds")
            fc = fc[fc["model"] == fc["model"].iloc[0]] if len(fc) else fc
            hist = full = None
            if history is not None:
                h = full = hists.get(pool.name, history.iloc[:0])
                hist = h[h["ds"] > h["ds"].max() - pd.Timedelta(days=history_days)] if len(h) else None
            try:
                static = static_nodes(full, pool) if hist is not None else int(p["nodes"].max())
                static_src = "history" if hist is not None else "plan peak"
            except PlanningError:
                static, static_src = int(p["nodes"].max()), "plan peak"
            aligned = fc.set_index("ds").reindex(p["ds"]).reset_index() if len(fc) else fc
            ok = len(aligned) and not aligned["yhat"].isna().any()
            busy, sign = expected_busy(aligned, p["gpus"].to_numpy()) if ok else (float("nan"), "~")
            sbusy, ssign = (expected_busy(aligned, np.full(len(p), static * pool.gpus_per_node)) if ok
                            else (float("nan"), "~"))
            nh, snh = p["nodes"].sum() * hours, static * len(p) * hours
            cost, scost = nh * pool.price_per_node_hour, snh * pool.price_per_node_hour
            saving = "n/a" if not scost else f"{100 * (1 - cost / scost):+.0f} %"
            slug = dns_name(pool.name, max_len=63)
            n_cap = int(p["capped"].sum()) if "capped" in p else 0
            n_cut = int((p["cut_nodes"] > 0).sum()) if "cut_nodes" in p else 0
            w = _runs(wins[pool.name]) if pool.name in wins else windows.iloc[:0]
            events = int(np.count_nonzero(np.diff(p["nodes"].to_numpy()) != 0))
            summary.append(
                f"| {pool.name} | {pool.service_quantile:g} | {pool.target_busy:.0%} | {_pct(busy, sign)} | "
                f"{_pct(sbusy, ssign)} | {p['nodes'].min()}-{p['nodes'].max()} | {nh:.0f} | {snh:.0f} "
                f"({static} nodes, {static_src}) | {cost:,.0f} | {scost:,.0f} | {saving} | {len(w)} | "
                f"{events} | {n_cap} | {n_cut} |"
            )
            if n_cut:
                cuts.append(f"| {pool.name} | {pool.priority} | {n_cut} | {p['cut_nodes'].sum() * hours:.0f} | "
                            f"{int(p['cut_nodes'].max())} |")
            prev = None if previous_plan is None else prevs.get(pool.name, previous_plan.iloc[:0])
            changes, change = _changes(p, prev, pool, hours)
            missed = _missed(prev, full)
            why = [text for flag, text in (
                (missed > pool.target_busy, f"the previous plan missed: demand above it on {_pct(missed)} of "
                                            "the steps seen since"),
                (sign != "<=" and busy > pool.target_busy + 1e-9,  # a bound "<= x" is no expected miss
                 f"expected busy {_pct(busy, sign)} above the target"),
                (n_cap > 0, f"capped at max_nodes on {n_cap} step(s)"),
                (n_cut > 0, f"cut by the budget on {n_cut} step(s)"),
                (change >= FLEET_CHANGE, f"node-hours changed by {change:.0%} since the previous plan")) if flag]
            if fleet and not why:
                continue  # a fleet report shows only the pools that need a look (each has its summary row)
            if fleet:
                attention.append(f"| {pool.name} | {'; '.join(why)} |")
            png = None
            if len(fc) and (not fleet or len(attention) <= MAX_FLEET_PLOTS):
                png = f"report/{slug}.png"
                _plot(figdir / f"{slug}.png", pool, hist, fc, p, static * pool.gpus_per_node)
            scored = realised.summary["pools"].get(pool.name) if realised is not None else None
            if scored is not None and realised is not None:
                plot_realised(figdir / f"{slug}-realised.png", pool,
                              realised.steps[realised.steps["unique_id"] == pool.name], scored)
            sections.append("\n".join(_section(pool, p, w, png, changes,
                                                f"report/{slug}-realised.png" if scored is not None else None)))
    head = [
        "# Capacity plan",
        "",
        f"Plan for {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, step {format_duration(step)}, "
        f"{len(pools)} pool(s). "
        "Nothing has been applied: review `k8s/` and apply the windows of `k8s/schedule.yaml` in order.",
        "",
        "## Summary",
        "",
        "Expected busy = mean share of steps where demand exceeds capacity, estimated from the forecast "
        "quantiles. Cost = node-hours x price_per_node_hour over this horizon. Windows = the pool's reservation "
        "windows of different nodes (what ops review and something applies); scale events = steps where the "
        "planned nodes change (`min_window` in the pools file lengthens windows).",
        "",
        "| pool | quantile | target busy | expected busy | busy, static plan | nodes | node-hours | "
        "static node-hours | cost | static cost | saving | windows | scale events | capped steps | budget-cut steps |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *summary,
        "",
        *(realised_lines(realised, pools) if realised is not None else []),
        "## Budget cuts",
        "",
    ]
    if fleet:
        shown = min(len(attention), MAX_FLEET_PLOTS)
        head += ["## Pools that need a look", "",
                 f"{len(pools)} pools: {len(attention)} missed, may miss, are capped or cut, or changed their plan "
                 f"(below, with a plot for the first {shown}); the other {len(pools) - len(attention)} are in the "
                 "summary only.", "", "| pool | why |", "|---|---|", *attention, ""]
    if cuts:
        head += ["Lower priority tiers are cut first to keep the shared GPU budget.", "",
                 "| pool | priority | steps cut | node-hours cut | largest cut (nodes) |", "|---|---|---|---|---|",
                 *cuts, ""]
    else:
        head += ["No pool was cut by a budget.", ""]
    return write_text(out / "report.md", "\n".join(head) + "\n" + "\n\n".join(sections) + "\n")
