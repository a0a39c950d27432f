"""How far calibration alone could take capforecast's plan: the ex-post floor on Helios (BENCHMARKS.md section 2).

Run from the project root:  ``python benchmarks/planning_floor.py [--data ../shared/data] [--model seasonal_quantile]``

For each (mode, target) cell it makes capforecast's estimates of the test week exactly as ``simulate`` does
(:class:`ForecastMethod`, nothing seen after a decision), then, *with hindsight*, finds per pool the one
constant bound (GPUs, or a share of the estimate; any estimate row) that is cheapest while meeting the target
on the test week itself. No planner can choose that bound in advance, so the aggregate cost_ratio it gives is a
floor for every constant calibration of these estimates; ``by lead`` is one such bound per lead bucket (the
calibration's own structure); ``flat`` is the same for one constant capacity all week, and
``newest`` for the newest observed demand held flat. The issue's bar minus the floor is what calibration could
still win; below the floor only a sharper forecast helps. Prints, per cell, the floor per pool (every pool
meeting its target, aggregate cost_ratio) and summed.
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
from capforecast.planning._forecast_method import params_for  # noqa: E402
from capforecast.planning.simulate import ForecastMethod, causal_fill, decision_schedule, split_windows  # noqa: E402

GPUS = 8
KEYS = ("estimates", "by lead", "flat", "newest")
CELLS = [(mode, target) for mode in ("nightly", "hourly") for target in (0.05, 0.01)]


def cheapest_bound(estimate: np.ndarray, demand: np.ndarray, target: float, misses: int | None = None) -> float:
    """Node-hours of the cheapest constant bound (additive or multiplicative) meeting ``target`` ex post
    (or, given ``misses``, with at most that many busy steps)."""
    allowed = int(np.floor(target * len(demand) + 1e-9)) if misses is None else misses
    best = np.inf
    for apply in (lambda b: estimate + b, lambda b: estimate * (1.0 + b / 100.0)):
        lo, hi = 0.0, 100_000.0  # busy falls as the bound grows: bisect to half a unit of the bound
        if np.sum(demand > np.ceil(np.maximum(apply(0.0), 0.0) / GPUS) * GPUS) <= allowed:
            lo = hi = 0.0
        while hi - lo > 0.5:
            mid = (lo + hi) / 2
            cap = np.ceil(np.maximum(apply(mid), 0.0) / GPUS) * GPUS
            lo, hi = (lo, mid) if np.sum(demand > cap) <= allowed else (mid, hi)
        cap = np.ceil(np.maximum(apply(hi), 0.0) / GPUS)
        if np.sum(demand > cap * GPUS) <= allowed:  # a zero estimate never meets by a multiplier
            best = min(best, float(cap.sum()))
    return best


def cheapest_by_lead(estimate: np.ndarray, demand: np.ndarray, leads: np.ndarray, target: float,
                     bucket: int = 6) -> float:
    """Node-hours of the cheapest bound chosen ex post per lead bucket (as ``ForecastMethod`` buckets leads),
    the target's busy steps shared out among the buckets where they save most (an exact knapsack)."""
    allowed = int(np.floor(target * len(demand) + 1e-9))
    groups = (np.asarray(leads) - 1) // bucket
    best = np.zeros(allowed + 1)  # best[m]: node-hours of the buckets so far with at most m busy steps
    for g in np.unique(groups):
        sel = groups == g
        own = np.array([cheapest_bound(estimate[sel], demand[sel], target, m) for m in range(allowed + 1)])
        best = np.array([min(best[m - k] + own[k] for k in range(m + 1)) for m in range(allowed + 1)])
    return float(best[allowed])


def floors(frame: pd.DataFrame, names: list[str], method: ForecastMethod, mode: str, target: float) -> dict:
    """Aggregate ex-post cost_ratio of the estimates, a flat capacity and the newest value held flat."""
    layout = {}
    for uid in names:
        part = frame[frame["unique_id"] == uid]
        ds, y = pd.DatetimeIndex(part["ds"]), causal_fill(part["y"].to_numpy(float))
        _, test_start, stop = split_windows(len(y), ds[1] - ds[0], 7, 7)
        layout[uid] = (ds, y, test_start, stop, decision_schedule(ds, test_start, stop, mode))
    fits = sorted({method.fit_key(d, mode) for v in layout.values() for d in v[4]})
    forecasts = method.forecasts(frame[frame["unique_id"].isin(names)], fits)
    total = {"estimates": 0.0, "by lead": 0.0, "flat": 0.0, "newest": 0.0, "oracle": 0.0}
    for uid, (ds, y, test_start, stop, decisions) in layout.items():
        est, leads = method.estimates(uid, y, ds, decisions, mode, forecasts)
        demand = y[test_start:stop]
        newest = np.concatenate([np.full(len(d.targets), y[d.observed - 1]) for d in decisions])
        total["estimates"] += min(cheapest_bound(row, demand, target) for row in est)
        total["by lead"] += min(cheapest_by_lead(row, demand, leads, target, method.lead_bucket) for row in est)
        total["newest"] += cheapest_bound(newest, demand, target)
        total["flat"] += cheapest_bound(np.zeros_like(demand), demand, target)
        total["oracle"] += float(np.ceil(demand / GPUS).sum())
    return {k: v / total["oracle"] for k, v in total.items() if k != "oracle"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    parser.add_argument("--model", default="seasonal_quantile",
                        help="capforecast's forecaster (default: seasonal_quantile; auto takes minutes)")
    parser.add_argument("--median", action="store_true", help="also the median as a nightly estimate")
    parser.add_argument("--only", choices=("summed", "per-pool"), default=None, help="one of the two columns")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    frame = load_helios(args.data)
    vcs = sorted(u for u in frame["unique_id"].unique() if u != "earth")
    method = ForecastMethod(model=args.model, model_params=params_for(args.model), nightly_median=args.median)
    print(f"ex-post floor of the aggregate cost_ratio, Helios test week, estimates of {args.model} "
          "(with the reference forecast)")
    print("| cell | per pool: estimates | by lead | flat | newest | summed: estimates | by lead | flat | newest |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode, target in CELLS:
        none = dict.fromkeys(KEYS, float("nan"))
        pool = none if args.only == "summed" else floors(frame, vcs, method, mode, target)
        summed = none if args.only == "per-pool" else floors(frame, ["earth"], method, mode, target)
        print(f"| {mode}, {100 * target:g} % | " + " | ".join(
            f"{d[k]:.3f}" for d in (pool, summed) for k in KEYS) + " |", flush=True)
    print(f"\nwall time {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
