"""The ``capforecast`` command line.

Each sub-command lives in ``capforecast/commands/<name>.py`` and exposes ``register(subparsers)`` (adds its
parser and ``set_defaults(func=run)``) and ``run(args) -> int``. This module is the only place that maps
errors to exit codes: a :class:`~capforecast.errors.CapforecastError` is printed as one line, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from capforecast.errors import CapforecastError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

COMMANDS = ("demo", "sample", "ingest", "train", "forecast", "backtest", "simulate", "plan", "nightly")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available sub-command registered."""
    from capforecast import __version__

    parser = argparse.ArgumentParser(
        prog="capforecast",
        description=(
            "Forecast GPU demand and plan Kubernetes node pre-reservations ahead of it. "
            "Start with 'capforecast demo --out out' (no Prometheus needed)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"capforecast {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"capforecast.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != f"capforecast.commands.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or EXIT_OK)
    except CapforecastError as exc:
        message = " ".join(str(exc).split("\n")[0:1]) or type(exc).__name__
        print(f"capforecast: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("capforecast: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `capforecast ... | head`: the reader left, which is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
