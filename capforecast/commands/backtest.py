"""``capforecast backtest``: rolling-origin backtest of several models on a series file.

Prints the mean scores per model (MASE, sMAPE, MAE, RMSE, pinball loss, coverage), writes the per model x
series table to ``--out`` (CSV), the forecasts with their cutoffs beside it (``<out>_forecasts.csv``) and a
PNG of forecast vs actual per cutoff (``<out>.png``). Exit code 3 when some models failed and others ran.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from capforecast.commands._inputargs import add_input_options, read_input

logger = logging.getLogger("capforecast.backtest")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "backtest",
        help="rolling-origin backtest of models on a series file: score table (CSV) and forecast-vs-actual PNG",
        description="Cut each series at --windows origins (the last one --horizon steps before its end), fit "
        "every model on the history up to each origin only, forecast --horizon steps and score them against "
        "what happened (M4's MASE and sMAPE, MAE, RMSE, pinball loss and coverage of each quantile). "
        "Example: capforecast backtest --input demand.csv --models seasonal_naive,gbm,auto --horizon 24 "
        "--windows 7 --out bt/scores.csv",
    )
    parser.add_argument("--input", required=True, help="series file (CSV/parquet): unique_id, ds, y")
    add_input_options(parser)
    parser.add_argument("--models", default="seasonal_naive,auto",
                        help="comma-separated model aliases, e.g. naive,seasonal_naive,gbm,auto "
                        "(default: seasonal_naive,auto)")
    parser.add_argument("--horizon", default="24",
                        help="steps to forecast from each origin, or a duration such as 24h or 2d (default: 24)")
    parser.add_argument("--windows", type=int, default=3, help="number of origins (default: 3)")
    parser.add_argument("--step-size", type=int, default=None,
                        help="steps between origins (default: the horizon, so windows do not overlap)")
    parser.add_argument("--refit", type=int, default=1,
                        help="refit every K windows (default: 1 = at every origin; between refits a model "
                        "forecasts further ahead without seeing newer data)")
    parser.add_argument("--quantiles", default="0.5,0.9", help="quantiles to score (default: 0.5,0.9)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel fits with joblib (default: 1)")
    parser.add_argument("--no-progress", action="store_true", help="do not print a line per finished fit")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    parser.add_argument("--out", required=True, help="CSV file for the score table (per model and series)")
    parser.set_defaults(func=run)


def _horizon_steps(text: str, frame: object) -> int:
    from capforecast import frames
    from capforecast._units import parse_duration
    from capforecast.errors import ConfigError

    text = str(text).strip()
    if text.isdigit():
        steps = int(text)
    else:
        step = frames.infer_step(frame)  # type: ignore[arg-type]
        span = parse_duration(text, name="--horizon")
        if span % step != span * 0:
            raise ConfigError(f"--horizon {text} is not a whole number of {step} steps; e.g. --horizon 24")
        steps = int(span / step)
    if steps < 1:
        raise ConfigError(f"--horizon must be at least one step, got {text!r}; e.g. --horizon 24")
    return steps


def run(args: argparse.Namespace) -> int:
    from capforecast._io import write_frame
    from capforecast._owned import check_not_inputs, outputs, precheck
    from capforecast.errors import ConfigError
    from capforecast.evaluation.backtest import cross_validation
    from capforecast.evaluation.plot import plot_backtest
    from capforecast.models import get_model

    started = time.perf_counter()
    out = Path(args.out)
    if out.suffix.lower() != ".csv":
        raise ConfigError(f"--out {args.out}: give a .csv file name for the score table, e.g. --out bt/scores.csv")
    if args.windows < 1 or args.refit < 1 or args.jobs == 0:
        raise ConfigError("--windows and --refit must be >= 1 and --jobs non-zero; e.g. --windows 7 --refit 1")
    names = [out.name, out.stem + "_forecasts.csv", *([] if args.no_plot else [out.stem + ".png"])]
    check_not_inputs([out.with_name(n) for n in names], {"--input": args.input})
    precheck(out.parent, names)
    frame = read_input(args, args.input)
    h = _horizon_steps(args.horizon, frame)
    aliases = [a.strip() for a in str(args.models).split(",") if a.strip()]
    if not aliases:
        raise ConfigError("--models is empty; list model aliases, e.g. --models seasonal_naive,gbm,auto")
    models = {a: get_model(a, horizon=h) if a == "auto" else get_model(a) for a in dict.fromkeys(aliases)}
    bt = cross_validation(frame, models, h=h, n_windows=args.windows, step_size=args.step_size,
                          refit=True if args.refit == 1 else args.refit, quantiles=args.quantiles,
                          n_jobs=args.jobs, progress=not args.no_progress,
                          options={"h": "--horizon", "n_windows": "--windows", "step_size": "--step-size",
                                   "refit": "--refit"})
    for name, message in bt.failures.items():
        logger.warning("model %s failed: %s", name, message)
    if bt.scores.empty:
        raise ConfigError(f"every model failed ({'; '.join(f'{k}: {v}' for k, v in bt.failures.items())}); "
                          "fix the first error above or backtest other models")
    summary = bt.summary()
    summary.insert(0, "seconds", [round(bt.seconds.get(m, float("nan")), 1) for m in summary.index])
    print(summary.to_string(float_format=lambda v: f"{v:.4g}"))
    with outputs(out.parent, names) as stage:  # replaces only files capforecast wrote
        write_frame(bt.scores, stage / names[0])
        write_frame(bt.forecasts, stage / names[1])
        if not args.no_plot:
            plot_backtest(bt.forecasts, stage / names[2], history=frame)
    written = [str(out.with_name(n)) for n in names]
    print(f"wrote {', '.join(written)} ({len(models)} model(s), {args.windows} window(s) of {h} steps, "
          f"{time.perf_counter() - started:.1f}s)")
    return 3 if bt.failures else 0
