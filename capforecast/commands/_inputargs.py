"""Options of every command that reads a series file: the columns holding id, time and value, and the layout.

``add_input_options`` registers them; ``read_input`` reads a file with them, and its errors name these flags
(``--id-col``), not the Python arguments of :func:`capforecast.ingest.files.read_series` (``id_col=``).
"""

from __future__ import annotations

import argparse
from typing import Any

#: How the command line spells read_series' arguments, for the fixes its errors suggest.
INPUT_FLAGS = {"id_col": "--id-col", "time_col": "--time-col", "target_col": "--target-col", "layout": "--layout"}


def add_input_options(parser: argparse.ArgumentParser, files: str = "--input") -> None:
    """Add ``--id-col``, ``--time-col``, ``--target-col`` and ``--layout`` (for the series file(s) ``files``)."""
    group = parser.add_argument_group(
        "series file columns",
        f"how to read {files}: long layout (one row per series and time: id, time, value columns) or wide layout "
        "(a time column and one numeric column per series); CSV separated by ',', ';' (decimal commas allowed) "
        "or tabs, optionally .gz/.bz2/.xz/.zip compressed, or parquet",
    )
    group.add_argument("--id-col", default="unique_id", metavar="COL",
                       help="column holding the series id (long layout; default: unique_id)")
    group.add_argument("--time-col", default="ds", metavar="COL",
                       help="column holding the time, RFC 3339 or Unix seconds (default: ds)")
    group.add_argument("--target-col", default="y", metavar="COL",
                       help="column holding the value, e.g. busy GPUs (long layout; default: y)")
    group.add_argument("--layout", choices=("long", "wide"), default=None,
                       help="long or wide (default: long if the file has the id or target column, else wide when "
                       "every other column is numeric)")


def read_input(args: argparse.Namespace, path: str) -> Any:
    """Read the series file ``path`` as the input options of ``args`` say (a validated series frame)."""
    from capforecast.ingest.files import read_series

    return read_series(path, layout=args.layout or "auto", id_col=args.id_col, time_col=args.time_col,
                       target_col=args.target_col, options=INPUT_FLAGS)
