"""Helpers shared by the accuracy benchmarks: run a step in its own process (wall time, peak memory), tables.

Each measured step runs in a forked child process, so its peak memory (max RSS of that process) is its own
and a crash or a timeout of one model does not take the whole benchmark down.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import resource
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Measured:
    """The outcome of :func:`measured`: the value (or the error), wall seconds and peak RSS in MiB."""

    value: Any
    seconds: float
    peak_mb: float
    error: str | None = None


def _child(conn: Any, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    start = time.perf_counter()
    try:
        value, error = func(*args), None
    except Exception as exc:  # reported to the parent, which prints it in the table
        value, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        traceback.print_exc()
    seconds = time.perf_counter() - start
    conn.send(Measured(value, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, error))
    conn.close()


def measured(func: Callable[..., Any], *args: Any, timeout: float | None = None) -> Measured:
    """Run ``func(*args)`` in a forked process; return its value, wall time and peak memory."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, func, args))
    start = time.perf_counter()
    proc.start()
    child.close()
    if not parent.poll(timeout):
        proc.kill()
        proc.join()
        return Measured(None, time.perf_counter() - start, math.nan, f"timed out after {timeout:.0f}s")
    try:
        result: Measured = parent.recv()
    except EOFError:
        result = Measured(None, time.perf_counter() - start, math.nan, "the process died (out of memory?)")
    proc.join()
    return result


def fmt(value: Any, digits: int = 3) -> str:
    """Format a table cell: floats with ``digits`` decimals, NaN/None as a dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], digits: int = 3) -> str:
    """Rows of dicts as a GitHub markdown table (the format ``docs/evaluation.md`` uses)."""
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(fmt(r.get(c), digits) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def add_auto_options(parser: argparse.ArgumentParser, default_candidates: str) -> None:
    """The options both accuracy benchmarks take for ``auto`` and for each model's time limit."""
    parser.add_argument("--auto-candidates", default=default_candidates,
                        help=f"auto's candidates (default: {default_candidates})")
    parser.add_argument("--auto-param", action="append", default=[], metavar="KEY=VALUE",
                        help="an AutoForecaster parameter, e.g. shrink=0, max_losses=null, default=seasonal_naive "
                             "(VALUE is read as YAML); repeatable")
    parser.add_argument("--shrink", type=float, default=None, help="same as --auto-param shrink=VALUE")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per model (default: 1800)")


def auto_params(args: argparse.Namespace) -> dict[str, Any]:
    """``{parameter: value}`` from ``--auto-param`` and ``--shrink``."""
    from capforecast.commands._modelargs import parse_key_values
    from capforecast.errors import ConfigError

    try:
        params = parse_key_values(args.auto_param, "--auto-param", "shrink=0")
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.shrink is not None:
        params["shrink"] = args.shrink
    return params


def preset_model(name: str, horizon: int) -> Any:
    """An unfitted model by benchmark name (a preset of ``capforecast.models.auto.CANDIDATES`` or an alias),
    set to ``horizon``, the P50/P90 levels the benchmarks score (fewer regressors to train; not for the LSTM)
    and no progress."""
    from capforecast.models import get_model
    from capforecast.models.auto import CANDIDATES

    alias, params = CANDIDATES.get(name, (name, {}))
    model = get_model(alias, **params)
    accepted = model.get_params()
    # Fewer levels make GBM-like models cheaper; the LSTM keeps its default grid (its cost hardly depends on
    # it, and the benchmark scores what users run).
    fewer = () if alias == "lstm" else (("quantiles", (0.5, 0.9)),)
    model.set_params(**{k: v for k, v in (("horizon", horizon), *fewer, ("verbose", 0)) if k in accepted})
    return model
