"""``capforecast sample``: regenerate the bundled sample data."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="write the bundled sample data (GPU telemetry of two pools, a series frame, a pools file)",
        description="Generate the synthetic but realistic sample of two GPU node pools (hourly, with daily and "
        "weekly seasonality, growth, bursts, scrape gaps and an outage) that 'capforecast demo' uses.",
    )
    parser.add_argument("--out", default="data/sample", help="output folder (default: data/sample)")
    parser.add_argument("--days", type=int, default=60, help="days of hourly data (default: 60)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from capforecast.ingest.sample import write_sample

    for path in write_sample(args.out, days=args.days):
        print(f"wrote {path}")
    return 0
