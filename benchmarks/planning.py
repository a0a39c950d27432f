"""Planning benchmark on Helios Earth (BENCHMARKS.md section 2): capforecast's plan vs the reference planners.

Run from the project root:  ``nice -n 10 python benchmarks/planning.py [--data ../shared/data] [--markdown]``

For the 16 virtual clusters summed (series ``earth``, one pool of 8-GPU nodes) and for each virtual cluster
as its own pool, both modes (nightly, hourly), both targets (busy <= 5 %, <= 1 %) and each ``--lead`` time
(default ``0s`` and ``1h``), it walks forward over the last 7 days of May 2020 (knobs chosen on the 7 days
before) and prints, per method and cell, ``cost_ratio / busy`` (summed) or ``pools met, aggregate
cost_ratio`` (per pool), the plan windows per day (runs of one node count; per pool, the mean), the issue's
bar, then the wall time. ``--model`` picks capforecast's forecaster (default ``auto``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from capforecast.datasets import load_helios  # noqa: E402
from capforecast.planning import PoolSpec  # noqa: E402
from capforecast.planning._forecast_method import params_for  # noqa: E402
from capforecast.planning.simulate import ForecastMethod, simulate  # noqa: E402

BASELINES = ("static", "reactive", "seasonal_naive_max", "holt_winters", "predict_linear")
CELLS = [(mode, target) for mode in ("nightly", "hourly") for target in (0.05, 0.01)]


def pools_for(names: list[str], target: float, lead_time: str = "0s") -> list[PoolSpec]:
    """One pool of 8-GPU nodes per series, unbounded, no cooldown or min_window rules (the protocol's), the given
    lead time."""
    return [PoolSpec(name=n, gpus_per_node=8, min_nodes=0, max_nodes=100_000, lead_time=lead_time,
                     scale_in_cooldown="0s", min_window="0s", target_busy=target) for n in names]


def method_for(model: str) -> ForecastMethod:
    """capforecast's plan from ``model`` (``seasonal_quantile`` with its 0.1 settings, the last 7 days)."""
    return ForecastMethod(model=model, model_params=params_for(model))


def run_cells(frame: pd.DataFrame, names: list[str], lead_time: str = "0s", model: str = "auto",
              test_days: float = 7) -> pd.DataFrame:
    """Every (mode, target) cell for the pools ``names``; one row per (cell, pool, method)."""
    rows = []
    for mode, target in CELLS:
        _, scores = simulate(frame[frame["unique_id"].isin(names)], pools_for(names, target, lead_time), mode,
                             baselines=BASELINES, method=method_for(model), test_days=test_days)
        scores["mode"], scores["target"] = mode, target
        scores["windows_per_day"] = (scores["scale_events"] + 1) / test_days
        rows.append(scores)
    return pd.concat(rows, ignore_index=True)


def windows_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Plan windows per day (runs of one node count), the mean over the pools, per method and cell."""
    t = scores.assign(col=scores["mode"] + ", " + (100 * scores["target"]).map("{:g} %".format))
    t = t.groupby(["method", "col"])["windows_per_day"].mean().map("{:.1f}".format).unstack()
    return t.reindex(columns=_cols(), index=_methods())


def bar(summed: pd.DataFrame, per_pool: pd.DataFrame, today: dict[str, float] | None = None) -> str:
    """The issue's bar: per pool >= 14 of 16 met in every cell at an aggregate cost_ratio no higher than
    ``today`` (column -> cost), and the summed series 4/4 met at a mean cost_ratio <= 1.15."""
    ours = summed[summed["method"] == "capforecast"]
    passed = ours["met"].all() and ours["cost_ratio"].mean() <= 1.15
    lines = [f"summed: {int(ours['met'].sum())}/4 cells met, mean cost_ratio {ours['cost_ratio'].mean():.3f} "
             f"(bar: 4/4 at <= 1.15) -> {'PASS' if passed else 'FAIL'}"]
    for (mode, target), g in per_pool.groupby(["mode", "target"], sort=False):
        o = g[g["method"] == "capforecast"]
        agg = o["cost"].sum() / g[g["method"] == "oracle"]["cost"].sum()
        col = f"{mode}, {100 * target:g} %"
        ref = (today or {}).get(col)
        ok = o["met"].sum() >= 14 and (ref is None or agg <= ref + 1e-9)
        lines.append(f"per pool {col}: {int(o['met'].sum())}/{len(o)} met, aggregate cost_ratio {agg:.3f}"
                     + (f" (bar: >= 14 at <= {ref:.2f})" if ref is not None else " (no cost reference: count only)")
                     + f" -> {'PASS' if ok else 'FAIL'}")
    return "\n".join(lines)


#: capforecast's per-pool aggregate cost_ratio before issue 12 (docs/simulation.md, lead_time 0s)
TODAY = {"nightly, 5 %": 1.55, "nightly, 1 %": 1.76, "hourly, 5 %": 1.37, "hourly, 1 %": 1.74}


def summed_table(scores: pd.DataFrame) -> pd.DataFrame:
    cell = scores.apply(lambda r: f"{r.cost_ratio:.2f} / {100 * r.busy:.1f} %" + ("" if r.met else " (missed)"),
                        axis=1)
    t = scores.assign(cell=cell, col=scores["mode"] + ", " + (100 * scores["target"]).map("{:g} %".format))
    return t.pivot(index="method", columns="col", values="cell").reindex(columns=_cols(), index=_methods())


def per_pool_table(scores: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for (mode, target, method), g in scores.groupby(["mode", "target", "method"]):
        oracle = scores[(scores["mode"] == mode) & (scores["target"] == target) & (scores["method"] == "oracle")]
        base = oracle.set_index("unique_id")["cost"]
        agg = (g.set_index("unique_id")["cost"].sum()) / base.sum()
        out[(method, f"{mode}, {100 * target:g} %")] = f"{int(g['met'].sum())}/{len(g)} met, {agg:.2f}"
    t = pd.Series(out).unstack()
    return t.reindex(columns=_cols(), index=_methods())


def verdict(scores: pd.DataFrame) -> str:
    """The issue's bar on the summed series: cells met, and mean cost_ratio vs the cheapest met baseline."""
    ours, best = [], []
    met = 0
    for _, g in scores.groupby(["mode", "target"], sort=False):
        g = g.set_index("method")
        met += bool(g.loc["capforecast", "met"])
        ours.append(g.loc["capforecast", "cost_ratio"])
        ok = g[(g.index.isin(BASELINES)) & g["met"]]
        best.append(ok["cost_ratio"].min() if len(ok) else np.nan)
    return (f"capforecast met {met}/4 cells; mean cost_ratio {np.mean(ours):.3f} vs {np.nanmean(best):.3f} for the "
            f"cheapest baseline that met each cell ({', '.join(f'{b:.2f}' for b in best)})")


def markdown(table: pd.DataFrame) -> str:
    """A GitHub markdown table of ``table`` (index as the first column)."""
    head = ["method", *map(str, table.columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in zip(table.index, table.to_numpy(), strict=True):
        lines.append("| " + " | ".join([str(name), *map(str, row)]) + " |")
    return "\n".join(lines)


def _cols() -> list[str]:
    return [f"{m}, {100 * t:g} %" for m, t in CELLS]


def _methods() -> list[str]:
    return ["capforecast", *BASELINES, "oracle"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--end", default=None,
                        help="drop data from this UTC time on, e.g. 2020-05-25 to test the week before (default: none)")
    parser.add_argument("--lead", default="0s,1h", help="comma-separated lead times (default: 0s,1h)")
    parser.add_argument("--model", default="auto", help="capforecast's forecaster (default: auto)")
    parser.add_argument("--only", choices=("summed", "per-pool"), default=None, help="run one of the two tables")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    frame = load_helios(args.data)
    if args.end:
        frame = frame[frame["ds"] < pd.Timestamp(args.end, tz="UTC")].reset_index(drop=True)
    vcs = sorted(u for u in frame["unique_id"].unique() if u != "earth")
    show = markdown if args.markdown else (lambda t: t.to_string())
    for lead in [x.strip() for x in args.lead.split(",") if x.strip()]:
        summed = per_pool = None
        if args.only != "per-pool":
            t0 = time.perf_counter()
            summed = run_cells(frame, ["earth"], lead, args.model)
            print(f"\nlead_time {lead}: Helios Earth, 16 VCs summed, cost_ratio / busy on the test week "
                  f"({time.perf_counter() - t0:.1f}s)")
            print(show(summed_table(summed)))
            print(verdict(summed))
            print(f"plan windows per day (lead_time {lead}, summed):")
            print(show(windows_table(summed)))
        if args.only != "summed":
            t0 = time.perf_counter()
            per_pool = run_cells(frame, vcs, lead, args.model)
            print(f"\nlead_time {lead}: each VC its own pool, pools meeting the target, aggregate cost_ratio "
                  f"({time.perf_counter() - t0:.1f}s)")
            print(show(per_pool_table(per_pool)))
            ours = per_pool[(per_pool["method"] == "capforecast") & ~per_pool["met"]]
            for (mode, target), g in ours.groupby(["mode", "target"], sort=False):
                print(f"capforecast missed {mode}, {100 * target:g} %: " + ", ".join(
                    f"{r.unique_id} ({100 * r.busy:.1f} %)" for r in g.itertuples()))
            print(f"plan windows per day, mean over the pools (lead_time {lead}):")
            print(show(windows_table(per_pool)))
        if summed is not None and per_pool is not None and not args.end:
            print(f"\nthe bar (lead_time {lead}):")
            print(bar(summed, per_pool, TODAY if pd.Timedelta(lead) == pd.Timedelta(0) else None))
    print(f"\nwall time {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
