"""``capforecast plan``: forecast frame + pools file -> plan.csv, plan.json, a kustomize overlay and a report."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from capforecast.commands._inputargs import add_input_options, read_input

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="turn a forecast into node pre-reservations: plan.csv, k8s overlay, report (files only)",
        description=(
            "Plan how many nodes each pool holds at each forecast step (service quantile + headroom, lead time, "
            "scale-in cooldown, min/max, priority tiers under a budget) and write OUT/plan.csv, OUT/plan.json, "
            "OUT/k8s/ (one kustomize overlay per reservation window and OUT/k8s/schedule.yaml saying when each "
            "applies) and OUT/report.md with one PNG per pool. Nothing is applied to any cluster."
        ),
    )
    parser.add_argument("--forecast", required=True, help="forecast frame (.csv or .parquet) with the pools' "
                        "quantile columns, e.g. from 'capforecast forecast'")
    parser.add_argument("--pools", required=True, help="pools YAML file (see examples/pools.yaml)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--history", help="series frame of observed demand, for the report's plot and static "
                        "plan, and the fallback for pools without a forecast")
    add_input_options(parser, "--history")
    parser.add_argument("--previous-plan", help="an earlier plan.csv to compare against (default: OUT/plan.csv "
                        "if it exists)")
    parser.add_argument("--state", help="current nodes per pool, e.g. 'a100-train=6,h100-infer=3' (starts the "
                        "cooldown; steps within the lead time cannot exceed it)")
    parser.add_argument("--model", help="the forecast's model to plan from, when the file holds several")
    parser.add_argument("--now", help="decision time (RFC 3339 or Unix seconds); forecast steps before it are "
                        "dropped (default: the first forecast step)")
    parser.set_defaults(func=run)


def _parse_state(text: str | None) -> dict[str, int]:
    from capforecast.errors import ConfigError

    state: dict[str, int] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        try:
            n = int(value)
        except ValueError:
            n = -1
        if not sep or not name.strip() or n < 0:
            raise ConfigError(f"--state: cannot read {item.strip()!r}; write POOL=NODES pairs, e.g. a100-train=6")
        state[name.strip()] = n
    return state


def _previous(args: argparse.Namespace, out: Path):  # noqa: ANN202 - DataFrame or None
    """The plan to compare against: --previous-plan (must be a plan), else OUT/plan.csv if it is one."""
    from capforecast.cli import one_line
    from capforecast.errors import CapforecastError, PlanningError
    from capforecast.planning.plan_file import read_plan

    if args.previous_plan:
        path = Path(args.previous_plan)
        try:
            return read_plan(path)
        except CapforecastError as exc:
            raise PlanningError(f"--previous-plan: {one_line(str(exc))}; pass a plan.csv written by "
                                "'capforecast plan', or leave --previous-plan out") from None
    path = out / "plan.csv"
    if not path.is_file():
        return None
    try:
        return read_plan(path)
    except CapforecastError as exc:
        logger.warning("not comparing with %s: %s", path, one_line(str(exc)))
        return None


OUTPUTS = ("k8s", "report", "report.md", "plan.json", "plan.csv")  # plan.csv last: it marks a finished plan


def run(args: argparse.Namespace) -> int:
    from capforecast import frames
    from capforecast._io import write_frame
    from capforecast._owned import check_not_inputs, outputs, precheck
    from capforecast.emit import write_overlay, write_plan_json, write_report
    from capforecast.planning import load_pools, plan_capacity
    from capforecast.planning.plan_file import read_timed_frame

    out = Path(args.out)
    inputs = {"--forecast": args.forecast, "--pools": args.pools, "--history": args.history}
    check_not_inputs([out / name for name in OUTPUTS if name != "plan.csv"],
                     {**inputs, "--previous-plan": args.previous_plan})
    check_not_inputs([out / "plan.csv"], inputs)  # --previous-plan OUT/plan.csv is read, then replaced
    precheck(out, OUTPUTS, folders=("k8s", "report"))
    pools = load_pools(args.pools)
    state = _parse_state(args.state)
    forecast = frames.validate_forecast(read_timed_frame(args.forecast, "forecast frame"), name=args.forecast,
                                        fixes="file")
    history = read_input(args, args.history) if args.history else None
    previous = _previous(args, out)

    plan = plan_capacity(forecast, pools, state=state, now=args.now, history=history, model=args.model)
    # build every output in a staging folder first, then move each into OUT: a failure changes nothing, and
    # nothing in OUT that capforecast did not write is replaced
    with outputs(out, OUTPUTS, folders=("k8s", "report")) as stage:
        write_frame(plan, stage / "plan.csv")
        write_plan_json(plan, pools, stage)
        overlay = write_overlay(plan, pools, stage)
        write_report(stage, plan=plan, pools=pools, forecast=forecast, history=history, previous_plan=previous)
    overlay = [out / f.relative_to(stage) for f in overlay]
    paths, report = [out / "plan.csv", out / "plan.json"], out / "report.md"
    for path in paths:
        print(f"wrote {path}")
    n_windows = sum(1 for f in overlay if f.name == "patches.yaml")
    print(f"wrote {out / 'k8s'}  ({n_windows} reservation windows; when each applies: {out / 'k8s/schedule.yaml'};"
          f" build: kubectl kustomize {out / 'k8s'})")
    print(f"wrote {report}")
    for name, rows in plan.groupby("unique_id", sort=False):
        capped = int(rows["capped"].sum())
        note = f"; forecast above max_nodes on {capped} step(s)" if capped else ""
        print(f"  {name}: {rows['nodes'].min()}..{rows['nodes'].max()} nodes{note}")
    fell_back = sorted(plan.loc[plan["rule"] == "fallback", "unique_id"].unique())
    if fell_back:
        logger.warning("no forecast for pool(s) %s: planned by the fallback rule (exit code 3)", ", ".join(fell_back))
        return 3
    print("nothing was applied to any cluster")
    return 0
