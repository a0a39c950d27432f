"""Planning on bursty synthetic pools that no default was chosen on: capforecast vs the cheapest baseline.

Run from the project root:  ``nice -n 10 python benchmarks/planning_bursty.py [--seeds 0,1,2,3] [--rules protocol]``

Helios (``benchmarks/planning.py``) is where the planner's defaults were chosen; this benchmark asks the
question of issue 12's held-out check on series the defaults never saw. Each seed draws four hourly series of
35 days, one of each kind:

- ``train``: training jobs arriving at random (more in working hours), each holding 8-64 GPUs for 2-30 h;
- ``infer``: a daily sine of inference demand with short bursts (2 % of hours start one, 1-3 h at 1-3x);
- ``batch``: weekday working hours high, weekends low, heavy-tailed (Student t, 2 degrees of freedom) noise;
- ``drift``: a daily cycle whose level rises by half over the last 10 days, with rare large bursts.

For each series, mode (nightly, hourly) and target (5 %, 1 %) it runs ``simulate`` as the command does (default
``--model auto``, the command's default baselines, 8-GPU nodes, ``lead_time: 1h``, the last 7 days scored) and
prints each cell's busy and cost_ratio beside the cheapest baseline that met the target, then the cells met and,
over the cells where capforecast and a baseline both met, the two mean cost_ratios. ``--rules protocol`` (default)
pins ``min_window`` and ``scale_in_cooldown`` to 0s as the protocol does; ``--rules defaults`` keeps the pool's
defaults (4h, 1h), as a pools file that gives only the required fields gets; ``simulate`` applies them to
the baselines' plans too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from capforecast.commands.simulate import DEFAULT_BASELINES  # noqa: E402
from capforecast.planning import PoolSpec  # noqa: E402
from capforecast.planning._forecast_method import params_for  # noqa: E402
from capforecast.planning.simulate import ForecastMethod, simulate  # noqa: E402

DAYS = 35
CELLS = [(mode, target) for mode in ("nightly", "hourly") for target in (0.05, 0.01)]


def bursty_series(seed: int) -> pd.DataFrame:
    """The four synthetic series of ``seed`` (``unique_id, ds, y`` in GPUs, hourly, whole GPUs)."""
    rng = np.random.default_rng(seed)
    n = 24 * DAYS
    ds = pd.date_range("2026-01-05", periods=n, freq="h", tz="UTC")
    hour, weekday = ds.hour.to_numpy(), ds.day_of_week.to_numpy()
    train = np.zeros(n)
    for t in range(n):
        for _ in range(rng.poisson(0.6 + 0.4 * (9 <= hour[t] <= 18))):
            train[t: t + int(rng.integers(2, 30))] += 8 * int(rng.integers(1, 9))
    base = 40 + 30 * np.sin(2 * np.pi * (hour - 8) / 24) + rng.normal(0, 3, n)
    burst = np.zeros(n)
    for t in np.flatnonzero(rng.random(n) < 0.02):
        burst[t: t + int(rng.integers(1, 4))] = base[t] * rng.uniform(1, 3)
    batch = 60 + 50 * ((weekday < 5) & (hour >= 7) & (hour <= 20)) + 10 * rng.standard_t(2, n)
    rise = np.where(np.arange(n) > n - 240, np.linspace(0, 40, n), 0.0)
    drift = 80 + 20 * np.sin(2 * np.pi * hour / 24) + rise + rng.normal(0, 4, n) \
        + 8 * rng.gamma(1.0, 6.0, n) * (rng.random(n) < 0.1)
    series = {"train": train, "infer": base + burst, "batch": batch, "drift": drift}
    return pd.concat([pd.DataFrame({"unique_id": k, "ds": ds, "y": np.round(np.maximum(v, 0.0))})
                      for k, v in sorted(series.items())], ignore_index=True)


def versus_cheapest(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per series of a ``simulate`` scores table: capforecast's busy, cost_ratio and met, and the
    cost_ratio and name of the cheapest baseline that met the target (NaN and ``-`` when none did)."""
    rows = []
    for uid, g in scores.groupby("unique_id", sort=True):
        g = g.set_index("method")
        own = g.loc["capforecast"]
        met = g.drop(["capforecast", "oracle"], errors="ignore")
        met = met[met["met"].astype(bool)]
        rows.append({"unique_id": uid, "busy": float(own["busy"]), "cost_ratio": float(own["cost_ratio"]),
                     "met": bool(own["met"]),
                     "cheapest": float(met["cost_ratio"].min()) if len(met) else float("nan"),
                     "cheapest_method": str(met["cost_ratio"].idxmin()) if len(met) else "-"})
    return pd.DataFrame(rows)


def summary(cells: pd.DataFrame) -> dict[str, float]:
    """Cells met, and the mean cost_ratio of capforecast and of the cheapest baseline where both met."""
    both = cells[cells["met"] & cells["cheapest"].notna()]
    return {"met": int(cells["met"].sum()), "cells": len(cells), "both": len(both),
            "capforecast": float(both["cost_ratio"].mean()) if len(both) else float("nan"),
            "cheapest": float(both["cheapest"].mean()) if len(both) else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3", help="comma-separated seeds, four series each")
    parser.add_argument("--rules", choices=("protocol", "defaults"), default="protocol",
                        help="min_window and scale_in_cooldown: 0s (protocol) or the pool's defaults")
    parser.add_argument("--model", default="auto", help="capforecast's forecaster (default: auto)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rules = {"min_window": "0s", "scale_in_cooldown": "0s"} if args.rules == "protocol" else {}
    print(f"bursty synthetic pools, --model {args.model}, lead_time 1h, rules: {args.rules}")
    print("| seed | series | cell | capforecast busy | cost_ratio | cheapest baseline that met | cost_ratio |")
    print("|---|---|---|---|---|---|---|")
    parts, met_by = [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        frame = bursty_series(seed)
        for mode, target in CELLS:
            pools = [PoolSpec(name=u, gpus_per_node=8, min_nodes=0, max_nodes=100_000, lead_time="1h",
                              target_busy=target, **rules) for u in frame["unique_id"].unique()]
            method = ForecastMethod(model=args.model, model_params=params_for(args.model))
            _, scores = simulate(frame, pools, mode, method=method, baselines=DEFAULT_BASELINES.split(","),
                                 test_days=7)
            met_by.append(scores[scores["method"] != "oracle"][["method", "met"]])
            cells = versus_cheapest(scores)
            for r in cells.itertuples():
                print(f"| {seed} | {r.unique_id} | {mode}, {100 * target:g} % | {100 * r.busy:.1f} %"
                      f"{'' if r.met else ' (missed)'} | {r.cost_ratio:.2f} | {r.cheapest_method} | "
                      f"{r.cheapest:.2f} |", flush=True)
            parts.append(cells)
    s = summary(pd.concat(parts, ignore_index=True))
    print(f"\ncapforecast met {s['met']} of {s['cells']} cells; where it and a baseline both met ({s['both']} "
          f"cells) mean cost_ratio {s['capforecast']:.3f} vs the cheapest baseline's {s['cheapest']:.3f}")
    met = pd.concat(met_by).groupby("method", sort=False)["met"].agg(["sum", "size"])
    print("cells met by each method alone: " + ", ".join(f"{m} {r['sum']}/{r['size']}" for m, r in met.iterrows()))
    print(f"wall time {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
