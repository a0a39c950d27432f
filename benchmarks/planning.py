"""Planning benchmark on Helios Earth (BENCHMARKS.md section 2): capforecast's plan vs the reference planners.

Run from the project root:  ``python benchmarks/planning.py [--data ../shared/data] [--markdown]``

For the 16 virtual clusters summed (series ``earth``, one pool of 8-GPU nodes) and for each virtual cluster
as its own pool, both modes (nightly, hourly) and both targets (busy <= 5 %, <= 1 %), it walks forward over
the last 7 days of May 2020 (knobs and calibration on the 7 days before) and prints, per method and cell,
``cost_ratio / busy`` (summed) or ``pools met, aggregate cost_ratio`` (per pool), then the wall time.
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
from capforecast.planning.simulate import simulate  # noqa: E402

BASELINES = ("static", "reactive", "seasonal_naive_max", "holt_winters", "predict_linear")
CELLS = [(mode, target) for mode in ("nightly", "hourly") for target in (0.05, 0.01)]


def pools_for(names: list[str], target: float) -> list[PoolSpec]:
    """One pool of 8-GPU nodes per series, unbounded, no lead-time, cooldown or min_window rules (the protocol's)."""
    return [PoolSpec(name=n, gpus_per_node=8, min_nodes=0, max_nodes=100_000, lead_time="0s",
                     scale_in_cooldown="0s", min_window="0s", target_busy=target) for n in names]


def run_cells(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Every (mode, target) cell for the pools ``names``; one row per (cell, pool, method)."""
    rows = []
    for mode, target in CELLS:
        _, scores = simulate(frame[frame["unique_id"].isin(names)], pools_for(names, target), mode,
                             baselines=BASELINES)
        scores["mode"], scores["target"] = mode, target
        rows.append(scores)
    return pd.concat(rows, ignore_index=True)


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
    args = parser.parse_args(argv)
    started = time.perf_counter()
    frame = load_helios(args.data)
    if args.end:
        frame = frame[frame["ds"] < pd.Timestamp(args.end, tz="UTC")].reset_index(drop=True)
    vcs = sorted(u for u in frame["unique_id"].unique() if u != "earth")
    show = markdown if args.markdown else (lambda t: t.to_string())
    t0 = time.perf_counter()
    summed = run_cells(frame, ["earth"])
    print(f"Helios Earth, 16 VCs summed: cost_ratio / busy on the test week ({time.perf_counter() - t0:.1f}s)")
    print(show(summed_table(summed)))
    print(verdict(summed))
    t0 = time.perf_counter()
    per_pool = run_cells(frame, vcs)
    print(f"\nEach VC its own pool: pools meeting the target, aggregate cost_ratio ({time.perf_counter() - t0:.1f}s)")
    print(show(per_pool_table(per_pool)))
    ours = per_pool[(per_pool["method"] == "capforecast") & ~per_pool["met"]]
    for (mode, target), g in ours.groupby(["mode", "target"], sort=False):
        print(f"capforecast missed {mode}, {100 * target:g} %: " + ", ".join(
            f"{r.unique_id} ({100 * r.busy:.1f} %)" for r in g.itertuples()))
    print(f"\nwall time {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
