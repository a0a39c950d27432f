"""Missing steps of a series frame: :func:`find_gaps` lists them, :func:`regularize` makes them NaN rows.

Both are re-exported by :mod:`capforecast.frames`, whose contract they keep: nothing is ever invented.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from capforecast._frame_checks import _MAX_SHOWN, _ns
from capforecast.errors import FrameError

__all__ = ["find_gaps", "regularize"]

logger = logging.getLogger("capforecast.frames")  # the warnings keep the logger name users filter on


def find_gaps(df: pd.DataFrame, step: str | pd.Timedelta | None = None) -> pd.DataFrame:
    """List the missing steps of each series as runs: ``unique_id``, ``start``, ``end``, ``missing_steps``.

    ``start`` and ``end`` are the first and last missing timestamps of a run. ``df`` is a series frame: rows
    grouped by ``unique_id`` and sorted by ``ds`` (:func:`~capforecast.frames.validate` checks that).
    """
    from capforecast import frames as _frames  # here, not above: frames re-exports this module
    from capforecast._frame_checks import _check_columns
    from capforecast._units import parse_duration

    _check_columns(df, ("unique_id", "ds"), "series frame")
    step_td = _frames.infer_step(df) if step is None else parse_duration(step, name="step")
    return _gap_table(df, _inner_diffs(df), step_td)


def _inner_diffs(df: pd.DataFrame) -> np.ndarray:
    """Each row's time since the row before it in its series, in ns (0 for a series' first row); plain numpy,
    as every model fit checks its frame for gaps."""
    codes, ns = pd.factorize(df["unique_id"], sort=False)[0], _ns(df["ds"])
    return np.r_[0, np.where(codes[1:] == codes[:-1], np.diff(ns), 0)]


def _gap_table(df: pd.DataFrame, inner: np.ndarray, step: pd.Timedelta) -> pd.DataFrame:
    """:func:`find_gaps`'s table from the rows' :func:`_inner_diffs`."""
    rows = np.flatnonzero(inner > step.value)
    ds = df["ds"].iloc[rows].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "unique_id": df["unique_id"].iloc[rows].to_numpy(),
            "start": (ds - pd.to_timedelta(inner[rows], unit="ns") + step).to_numpy(),
            "end": (ds - step).to_numpy(),
            "missing_steps": (np.round(inner[rows] / step.value).astype("int64") - 1),
        }
    )
    return out.reset_index(drop=True)


def regularize(
    df: pd.DataFrame, step: str | pd.Timedelta | None = None, *, gaps: str = "nan"
) -> pd.DataFrame:
    """Return ``df`` with every step of every series present.

    Parameters
    ----------
    df : series frame (validated here).
    step : the step (``'5m'``, ``'1h'``); inferred when omitted.
    gaps : ``'nan'`` (default) inserts missing steps as rows whose values are NaN and logs a warning that
        lists them; ``'raise'`` raises :class:`FrameError` instead. Values are never invented.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = pd.to_datetime(["2026-01-01 00:00", "2026-01-01 02:00"], utc=True)
    >>> regularize(pd.DataFrame({"unique_id": "a", "ds": ds, "y": [1.0, 3.0]}), "1h")["y"].tolist()
    [1.0, nan, 3.0]
    """
    from capforecast import frames as _frames  # here, not above: frames re-exports this module

    if gaps not in ("nan", "raise"):
        raise FrameError(f"regularize: gaps must be 'nan' or 'raise', got {gaps!r}")
    _frames.validate(df)
    from capforecast._units import parse_duration

    step_td = _frames.infer_step(df) if step is None else parse_duration(step, name="step")
    if step_td <= pd.Timedelta(0):
        raise FrameError("regularize: step must be positive, e.g. '5m' or '1h'")
    inner = _inner_diffs(df)
    found = _gap_table(df, inner, step_td)
    if (inner % step_td.value != 0).any():
        raise FrameError(
            f"regularize: timestamps are not multiples of step {step_td} apart; resample to that step first"
        )
    if found.empty:
        return df
    if gaps == "raise":
        raise FrameError(f"series frame has {int(found['missing_steps'].sum())} missing steps: {_describe_gaps(found)}"
                         "; fill them upstream or call regularize(df, gaps='nan') to mark them NaN")
    logger.warning(
        "series frame: %d missing step(s) marked NaN (no values invented): %s",
        int(found["missing_steps"].sum()),
        _describe_gaps(found),
    )
    return _fill_grid(df, step_td)


def _fill_grid(df: pd.DataFrame, step: pd.Timedelta) -> pd.DataFrame:
    """Every step from each series' first to its last time; rows that were missing get NaN (one vectorised pass
    over the rows, no loop over series). ``df`` is a validated frame: sorted, each series on its step grid."""
    codes, uniques = pd.factorize(df["unique_id"], sort=False)
    ns, step_ns = _ns(df["ds"]), step.value
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:] - 1, len(df) - 1]
    first = ns[starts]
    n = (ns[ends] - first) // step_ns + 1
    offsets = np.r_[0, np.cumsum(n)[:-1]]
    total = int(n.sum())
    where = np.full(total, -1, dtype=np.int64)  # the input row of each output row, -1 for a missing step
    where[offsets[codes] + (ns - first[codes]) // step_ns] = np.arange(len(df))
    grid = np.repeat(first, n) + (np.arange(total) - np.repeat(offsets, n)) * step_ns
    out = {}
    for col in df.columns:
        if col == "unique_id":
            out[col] = pd.Series(np.repeat(np.asarray(uniques, dtype=object), n)).astype(df[col].dtype)
        elif col == "ds":
            times = pd.DatetimeIndex(grid.astype("datetime64[ns]")).tz_localize("UTC")
            out[col] = pd.Series(times).astype(df[col].dtype)
        else:
            out[col] = pd.Series(pd.api.extensions.take(df[col].array, where, allow_fill=True), name=col)
    return pd.DataFrame(out)[list(df.columns)]


def _describe_gaps(found: pd.DataFrame) -> str:
    text = "; ".join(
        f"{r.unique_id} {r.start:%Y-%m-%d %H:%M}..{r.end:%Y-%m-%d %H:%M} ({r.missing_steps})"
        for r in found.head(_MAX_SHOWN).itertuples()
    )
    return text + (f" (and {len(found) - _MAX_SHOWN} more runs)" if len(found) > _MAX_SHOWN else "")
