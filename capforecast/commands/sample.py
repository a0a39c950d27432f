"""``capforecast sample``: regenerate the bundled sample data."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="write the bundled sample data (GPU telemetry of two pools, a series frame, a pools file)",
        description="Generate the synthetic but realistic sample of two GPU node pools (hourly, with daily and "
        "weekly seasonality, growth, bursts, scrape gaps and an outage) that 'capforecast demo' uses.",
    )
    parser.add_argument("--out", default="data/sample", help="output folder (default: data/sample)")
    parser.add_argument("--days", type=_days, default=60, help="days of hourly data (default: 60)")
    parser.set_defaults(func=run)


def _days(text: str) -> int:
    """``--days``: a whole number >= 1 (argparse turns the error into one line naming the option)."""
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of days >= 1, got {text!r}; e.g. --days 60")
    return days


FILES = ("gpu_usage.csv", "series.csv", "pools.yaml")


def write_sample_into(out: str | Path, days: int = 60) -> list[Path]:
    """Write the sample files into ``out``, replacing only files capforecast wrote; return their paths."""
    from capforecast._owned import outputs
    from capforecast.ingest.sample import write_sample

    with outputs(out, FILES) as stage:
        names = [p.name for p in write_sample(stage, days=days)]
    assert tuple(names) == FILES, names  # noqa: S101 - the list above must name what write_sample writes
    return [Path(out) / name for name in names]


def run(args: argparse.Namespace) -> int:
    for path in write_sample_into(args.out, days=args.days):
        print(f"wrote {path}")
    return 0
