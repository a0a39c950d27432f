"""``capforecast demo``: the whole path on the bundled sample, no Prometheus needed.

series frame -> forecast (quantiles) -> capacity plan -> Kubernetes kustomize overlay + ops report.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from capforecast.commands._inputargs import add_input_options, read_input

logger = logging.getLogger("capforecast.demo")

DEFAULT_INPUT = Path("data/sample/series.csv")
DEFAULT_POOLS = Path("data/sample/pools.yaml")
OUTPUTS = ("forecast.csv", "k8s", "report", "report.md", "plan.csv")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run data -> forecast -> plan -> Kubernetes patches + report on the bundled sample",
        description="Forecast GPU demand of the bundled sample pools, plan node pre-reservations from a "
        "forecast quantile, and write forecast.csv, plan.csv, a kustomize overlay (k8s/) and report.md "
        "with one PNG per pool. Nothing is applied to any cluster.",
    )
    parser.add_argument("--out", default="out", help="output folder (default: out)")
    parser.add_argument("--input", default=None,
                        help=f"series frame CSV/parquet (default: {DEFAULT_INPUT}, generated if missing)")
    add_input_options(parser)
    parser.add_argument("--pools", default=None, help=f"pools YAML (default: {DEFAULT_POOLS})")
    from capforecast.models import MODELS

    parser.add_argument("--model", default="auto",
                        help=f"model alias: {', '.join(MODELS)} "
                        "(default: auto: chosen per pool by backtest, quantiles calibrated on backtest errors)")
    parser.add_argument("--horizon", default="48h", help="how far ahead to plan, e.g. 24h, 2d (default: 48h)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from capforecast import frames
    from capforecast._io import write_frame
    from capforecast._owned import check_not_inputs, outputs, precheck
    from capforecast._units import format_duration, parse_duration
    from capforecast.commands._modelargs import check_horizon
    from capforecast.commands.sample import write_sample_into
    from capforecast.emit import write_overlay, write_report
    from capforecast.errors import ConfigError
    from capforecast.ingest.sample import make_sample
    from capforecast.models import get_model
    from capforecast.planning import load_pools, plan_capacity

    started = time.perf_counter()
    out = Path(args.out)
    check_not_inputs([out / name for name in OUTPUTS], {"--input": args.input or DEFAULT_INPUT,
                                                         "--pools": args.pools or DEFAULT_POOLS})
    precheck(out, OUTPUTS, folders=("k8s", "report"))
    # every flag is checked before any work: nothing generated, read or fitted for a run that cannot finish
    model = get_model(args.model)
    span = parse_duration(args.horizon, name="--horizon")
    pools = load_pools(args.pools) if args.pools else None
    generate = args.input is None and not DEFAULT_INPUT.is_file()
    # the sample about to be generated is checked in memory: a run that stops leaves no data/sample behind
    frame = make_sample() if generate else read_input(args, str(args.input or DEFAULT_INPUT))
    step = frames.infer_step(frame)
    horizon = int(span / step)
    if horizon < 1:
        raise ConfigError(f"--horizon {args.horizon} is shorter than one step ({format_duration(step)} in "
                          f"{args.input or DEFAULT_INPUT}); give e.g. 24h")
    check_horizon(horizon, frame["ds"], step, f"--horizon {args.horizon}")
    if generate:
        logger.info("%s not found: generating the sample into data/sample/", DEFAULT_INPUT)
        write_sample_into(DEFAULT_INPUT.parent)
        frame = read_input(args, str(DEFAULT_INPUT))
    pools = pools or load_pools(DEFAULT_POOLS)

    model.fit(frame)
    levels = sorted({0.5, 0.9, *(p.service_quantile for p in pools)})
    forecast = model.predict(horizon, quantiles=levels)
    plan = plan_capacity(forecast, pools)

    with outputs(out, OUTPUTS, folders=("k8s", "report")) as stage:  # nothing capforecast did not write is replaced
        write_frame(forecast, stage / "forecast.csv")
        write_frame(plan, stage / "plan.csv")
        overlay = write_overlay(plan, pools, stage)
        write_report(stage, history=frame, forecast=forecast, plan=plan, pools=pools)
    written = {"forecast": out / "forecast.csv", "plan": out / "plan.csv"}
    report = out / "report.md"
    print(f"forecast  {written['forecast']}  ({model.alias}, {horizon} steps, quantiles {levels})")
    print(f"plan      {written['plan']}  ({len(plan)} rows, nodes {plan['nodes'].min()}..{plan['nodes'].max()})")
    print(f"k8s       {out / 'k8s'}  ({len(overlay)} files; build with: kubectl kustomize {out / 'k8s'})")
    print(f"report    {report}")
    print(f"done in {time.perf_counter() - started:.1f}s; nothing was applied to any cluster")
    return 0
