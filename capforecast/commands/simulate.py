"""``capforecast simulate``: walk forward over the last days of a demand file and score the plans.

Writes ``DIR/plan.csv`` (capforecast's plan: ``unique_id, ds, nodes``, one row per step of the test window),
``DIR/scores.csv`` (busy, unmet share, idle GPU-hours, cost, cost_ratio vs the oracle, scale events of
capforecast's plan and of the reference planners on the same data) and ``DIR/plans_all.csv`` (every method).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from capforecast.commands._inputargs import add_input_options, read_input

logger = logging.getLogger("capforecast.simulate")

DEFAULT_BASELINES = "static,reactive,seasonal_naive_max"
OUTPUTS = ("plan.csv", "scores.csv", "plans_all.csv")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="replay the last days of demand: capforecast's plan vs static, reactive, seasonal-naive, oracle",
        description="Walk forward over the last --test-days of each series exactly as ../shared/BENCHMARKS.md "
        "defines it: at each decision time use only demand observed by then, forecast, calibrate the headroom "
        "for the pool's target_busy on up to the last 14 days of forecasts whose demand has been seen (starting "
        "with the --val-days before the test window; the level adapts after every observed miss), and plan with "
        "the pool's rules; the baselines' knobs are chosen "
        "on the --val-days, and their plans follow the pool's rules (headroom, min_window, scale_in_cooldown, "
        "budget) as capforecast's does. 'nightly' commits every step of the next 24 h at 00:00; 'hourly' "
        "commits the hour starting at t + 1h at each hour t. Nothing is applied to any cluster.",
    )
    parser.add_argument("--input", required=True, help="series frame CSV/parquet: unique_id, ds, y (GPUs)")
    add_input_options(parser)
    parser.add_argument("--pools", required=True, help="pools YAML; each pool plans the series of its name")
    parser.add_argument("--mode", choices=("nightly", "hourly"), default="nightly",
                        help="when plans are committed (default: nightly)")
    parser.add_argument("--test-days", type=float, default=7.0, help="days scored at the end (default: 7)")
    parser.add_argument("--val-days", type=float, default=7.0,
                        help="days before the test window where calibration starts and baseline knobs are "
                        "chosen (default: 7)")
    parser.add_argument("--baselines", default=DEFAULT_BASELINES,
                        help="comma-separated reference planners: static, reactive, seasonal_naive_max, "
                        f"holt_winters, predict_linear (default: {DEFAULT_BASELINES}); the oracle is always added")
    parser.add_argument("--model", default="auto",
                        help="model whose p25/p50/p90 forecasts drive capforecast's plan (default: auto, each "
                        "pool's champion by backtest, refit daily; a model with update, e.g. gbm or lstm, is "
                        "trained once before the calibration window and then only given new demand; "
                        "seasonal_quantile is the 0.1 behaviour, the last 7 days' same-hour quantiles, and "
                        "its estimates are calibrated beside any other model's, the cheaper plan used)")
    parser.add_argument("--out", required=True, help="output folder for plan.csv and scores.csv")
    parser.set_defaults(func=run)


DAYS_FLAGS = {"test_days": "--test-days", "val_days": "--val-days"}


def _check_windows(frame, names: list[str], args: argparse.Namespace) -> None:  # noqa: ANN001 - a DataFrame
    """Fail before any work when a series is too short for the windows, naming the flag to change."""
    from capforecast.planning.simulate import split_windows

    for _uid, ds in frame[frame["unique_id"].isin(names)].groupby("unique_id")["ds"]:
        if len(ds) >= 2:
            step = ds.diff().min()
            split_windows(int((ds.iloc[-1] - ds.iloc[0]) / step) + 1, step, args.test_days, args.val_days,
                          options=DAYS_FLAGS)


def run(args: argparse.Namespace) -> int:
    from capforecast._io import write_frame
    from capforecast._owned import check_not_inputs, outputs, precheck
    from capforecast.errors import ConfigError
    from capforecast.models import MODELS
    from capforecast.planning import load_pools
    from capforecast.planning._decisions import check_days
    from capforecast.planning._forecast_method import params_for
    from capforecast.planning.baselines import BASELINES
    from capforecast.planning.simulate import ForecastMethod, simulate

    started = time.perf_counter()
    names = [b.strip() for b in str(args.baselines).split(",") if b.strip()]
    unknown = [b for b in names if b not in BASELINES]
    if unknown:
        raise ConfigError(f"--baselines: unknown planner(s) {unknown}; choose from {', '.join(BASELINES)}")
    check_days(args.test_days, args.val_days, options=DAYS_FLAGS)  # before any work
    if args.model not in MODELS:
        raise ConfigError(f"--model: unknown model {args.model!r}; choose one of {', '.join(MODELS)}")
    method = ForecastMethod(model=args.model, model_params=params_for(args.model))
    out = Path(args.out)
    check_not_inputs([out / name for name in OUTPUTS], {"--input": args.input, "--pools": args.pools})
    precheck(out, OUTPUTS)
    frame = read_input(args, args.input)
    pools = load_pools(args.pools)
    ids = set(frame["unique_id"].astype(str))
    planned = [p for p in pools if p.name in ids]
    skipped = [p.name for p in pools if p.name not in ids]
    if skipped and planned:
        logger.warning("pools without a series in %s (not simulated): %s", args.input, ", ".join(skipped))
    _check_windows(frame, [p.name for p in planned or pools], args)
    plans, scores = simulate(frame, planned or list(pools), args.mode, test_days=args.test_days,
                             val_days=args.val_days, method=method, baselines=names)
    ours = plans[plans["method"] == "capforecast"][["unique_id", "ds", "nodes"]]
    with outputs(out, OUTPUTS) as stage:  # replaces only files capforecast wrote
        write_frame(ours, stage / "plan.csv")
        write_frame(scores, stage / "scores.csv")
        write_frame(plans, stage / "plans_all.csv")
    table = scores[["unique_id", "method", "busy", "cost_ratio", "unmet_share", "windows_per_day", "scale_events",
                    "met"]].copy()
    table["busy"] = (100 * table["busy"]).map("{:.1f} %".format)
    table["unmet_share"] = (100 * table["unmet_share"]).map("{:.2f} %".format)
    table["cost_ratio"] = table["cost_ratio"].map("{:.3f}".format)
    table["windows_per_day"] = table["windows_per_day"].map("{:.1f}".format)
    print(table.to_string(index=False))
    ours_scores = scores[scores["method"] == "capforecast"]
    for row in ours_scores[ours_scores.get("capped_steps", 0) > 0].itertuples():
        print(f"pool {row.unique_id}: on {int(row.capped_steps)} step(s) the calibrated need is above max_nodes or "
              "cut by the budget, so its busy target cannot be met there (plan reason: CAPPED / budget)")
    print(f"wrote {out / 'plan.csv'}, {out / 'scores.csv'}, {out / 'plans_all.csv'} "
          f"({args.mode}, {len(planned)} pool(s), {time.perf_counter() - started:.1f}s)")
    return 3 if skipped else 0
