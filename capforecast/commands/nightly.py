"""``capforecast nightly --config FILE``: the scheduled job (ingest, backtest, champion, forecast, plan)."""

from __future__ import annotations

import argparse
import sys

from capforecast.compute import BACKENDS, Compute

DESCRIPTION = """\
Run the nightly job described by one YAML config: pull new data from Prometheus (incrementally),
score the earlier runs' plans against the demand observed since (realised.json), backtest the candidate
models, pick or keep each pool's champion, forecast, plan node reservations (a pool over its busy target on
realised.flag_after_days of the last 7 days at a stricter quantile), and write forecast.csv, plan.csv,
scores.csv, realised.json, the kustomize overlay k8s/ and report.md into OUTPUT/runs/<date>; then point
OUTPUT/latest at it. A failure leaves the previous run, models and 'latest' untouched.

Exit codes: 0 success, 3 partial (some pools fell back; see the log), 1 failure (nothing changed).
Example config: deploy/nightly.example.yaml; every key is described in docs/nightly.md."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``nightly`` sub-command."""
    parser = subparsers.add_parser(
        "nightly",
        help="run the nightly forecast-and-plan job from a YAML config",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="the job's YAML config file")
    parser.add_argument(
        "--now",
        metavar="TIME",
        help="run as if it were TIME (RFC 3339 or Unix seconds; default: now) — to replay or backfill a day",
    )
    parser.add_argument(
        "--force", action="store_true", help="run again even if today's run already finished (replaces it)"
    )
    parser.add_argument(
        "--check", action="store_true", help="only validate the config, resolve every secret reference and file "
        "it names (never printing a secret), and print what would run; exit"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress display even when stdout is a terminal"
    )
    parser.add_argument(
        "--backend", choices=BACKENDS, default=None, help="where backtests and per-pool fits run: sequential "
        "(this process), threading or loky (local workers) or dask (a Dask cluster); default: the config's "
        "compute.backend, else sequential"
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", default=None, help="the Dask scheduler to run on, e.g. "
        "tcp://dask-scheduler:8786 (implies --backend dask; default: compute.address, else a LocalCluster)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N", help="local workers (threads, processes or "
        "LocalCluster processes; default: compute.workers, else every core)"
    )
    parser.set_defaults(func=run)


def _compute(args: argparse.Namespace, configured: Compute | None) -> Compute | None:
    """The config's ``compute:`` with the command line's --backend, --scheduler and --workers over it."""
    if args.backend is None and args.scheduler is None and args.workers is None:
        return configured
    base = configured or Compute()
    backend = args.backend or ("dask" if args.scheduler else base.backend)
    address = args.scheduler or (base.address if backend == "dask" else None)
    return Compute(backend, address, args.workers or base.workers)


def _progress(step: str, index: int, total: int) -> None:
    bar = "#" * index + "." * (total - index)
    print(f"[{bar}] {index}/{total} {step} ...", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the job; return 0 (success), 3 (partial); failures raise and the CLI exits 1."""
    from capforecast.config import load_config
    from capforecast.pipeline import run_nightly

    cfg = load_config(args.config)
    compute = _compute(args, cfg.compute)
    if args.check:
        references = cfg.check_references()  # a missing secret fails now, not at the first real run
        print(f"config {args.config}: OK")
        for line in references:
            print(f"  reference   {line}")
        print(f"  prometheus  {cfg.prometheus.url}")
        print(f"  pools       {', '.join(cfg.pool_names)}")
        print(f"  candidates  {', '.join(cfg.models.candidates)} (fallback {cfg.models.fallback})")
        print(f"  outputs     {cfg.output.runs_dir}/<date>, latest -> {cfg.output.latest}")
        r = cfg.realised
        print(f"  realised    over target on {r.flag_after_days} of 7 days: plan for {r.widen:g} x the miss share")
        c = compute or Compute()
        print(f"  compute     {c.backend}" + (f" at {c.address}" if c.address else "")
              + (f", {c.workers} workers" if c.workers else ""))
        return 0
    if compute is not None and compute.backend == "dask":  # the command is the application: quiet Dask's INFO lines
        import logging

        logging.getLogger("distributed").setLevel(logging.WARNING)
    show = sys.stdout.isatty() and not args.no_progress
    result = run_nightly(cfg, now=args.now, force=args.force, progress=_progress if show else None,
                         compute=compute)
    print(f"nightly: {result.status}: {result.run_dir}")
    for note in result.notes:
        print(f"  {note}")
    return result.exit_code
