"""The ``capforecast`` command line.

Each sub-command lives in ``capforecast/commands/<name>.py`` and exposes ``register(subparsers)`` (adds its
parser and ``set_defaults(func=run)``) and ``run(args) -> int``. This module is the only place that maps
errors to exit codes: a :class:`~capforecast.errors.CapforecastError` is printed as one line, no traceback, and
so is an :class:`OSError` (the path and the cause: a read-only folder, a full disk, a file where a folder is
expected). Every command writes beside its targets first and replaces them last, so a failed run leaves them as
they were.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from capforecast.errors import CapforecastError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

COMMANDS = ("demo", "sample", "ingest", "train", "forecast", "backtest", "simulate", "plan", "nightly", "schema",
            "exporter")


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but a usage error is one line like every other error (argparse prints the usage first)."""

    def error(self, message: str) -> NoReturn:
        if message.endswith("expected one argument"):  # e.g. --horizon -2h: argparse took -2h for an option
            message += " (write a value that starts with '-' as --option=VALUE)"
        self.exit(EXIT_USAGE, f"capforecast: error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available sub-command registered."""
    from capforecast import __version__

    parser = _Parser(
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
    from capforecast import _reported

    try:
        with _reported.once():  # a data warning (negative demand) is said once, not by every stage
            return int(args.func(args) or EXIT_OK)
    except CapforecastError as exc:
        print(f"capforecast: error: {one_line(str(exc)) or type(exc).__name__}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("capforecast: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `capforecast ... | head`: the reader left, which is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        print(f"capforecast: error: {os_error_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


def one_line(text: str) -> str:
    """``text`` with its lines joined by spaces (nothing is dropped: a hint on a later line stays)."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


#: What to do about the usual write faults, by errno.
_OS_FIXES = {
    errno.ENOSPC: "free some space and run again",
    errno.EDQUOT: "free some space and run again",
    errno.EROFS: "choose a writable output path",
    errno.EACCES: "choose a folder you may write to",
    errno.EPERM: "choose a folder you may write to",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path or move that file",
    errno.EISDIR: "it is a folder: give a file name, or choose another path",
    errno.EEXIST: "something is already there: choose another path or remove it",
    errno.ENOTEMPTY: "the folder is not empty: choose another path or remove it",
}


def os_error_line(exc: OSError) -> str:
    """One line for an OS error: the path(s), the cause and, for the usual faults, the fix."""
    paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    cause = exc.strerror or one_line(str(exc)) or type(exc).__name__
    fix = _OS_FIXES.get(exc.errno or 0)
    return f"{paths + ': ' if paths else ''}{cause}{'; ' + fix if fix else ''}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
