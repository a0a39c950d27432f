"""The series-frame and forecast-frame contracts.

A **series frame** is a long pandas DataFrame with ``unique_id`` (str), ``ds`` (timezone-aware UTC timestamps)
and ``y`` (float64), sorted by ``(unique_id, ds)``, with no duplicate ``(unique_id, ds)`` and one regular step
per series. Extra columns are exogenous features. Missing steps are *gaps*: :func:`regularize` makes them
explicit NaN rows and reports them; nothing is ever invented.

A **forecast frame** has ``unique_id``, ``ds``, ``model``, ``yhat`` (the point forecast) and one column per
quantile named ``p`` + percent (``p50``, ``p90``, ``p99.5``). Quantile columns never cross.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"unique_id": "a100-train",
...                    "ds": pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC"),
...                    "y": [1.0, 2.0, 3.0]})
>>> validate(df) is df
True
>>> infer_step(df)
Timedelta('0 days 01:00:00')
>>> quantile_column(0.995)
'p99.5'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from capforecast._frame_checks import (
    _MAX_SHOWN,
    SERIES_COLUMNS,
    _check_columns,
    _check_ids_and_times,
    _check_order_and_steps,
    _check_values,
    _modes,
    _ns,
    _offset,
    _rows,
)
from capforecast._quantile_names import parse_quantiles, quantile_column, quantile_columns
from capforecast.errors import FrameError

__all__ = [
    "FORECAST_COLUMNS",
    "SERIES_COLUMNS",
    "find_gaps",
    "infer_step",
    "negative_values",
    "parse_quantiles",
    "quantile_column",
    "quantile_columns",
    "regularize",
    "validate",
    "validate_forecast",
]

logger = logging.getLogger(__name__)

FORECAST_COLUMNS = ("unique_id", "ds", "model", "yhat")


def negative_values(df: pd.DataFrame, cols: Sequence[str]) -> str | None:
    """``None`` if no value of ``cols`` is below 0, else which series have some: how many rows, the first one.

    Examples
    --------
    >>> ds = pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC")
    >>> negative_values(pd.DataFrame({"unique_id": "a", "ds": ds, "y": [1.0, -2.0, -1.0]}), ["y"])
    '1 series: a (2 rows, first at 2026-01-01 01:00 UTC)'
    """
    neg = (df[list(cols)].to_numpy(dtype=float) < 0).any(axis=1)
    if not neg.any():
        return None
    bad = df.loc[neg, ["unique_id", "ds"]]
    groups = bad.groupby("unique_id", sort=True)["ds"].agg(["size", "min"])
    shown = ", ".join(f"{uid} ({n} row{'s' if n > 1 else ''}, first at {first:%Y-%m-%d %H:%M} UTC)"
                      for uid, (n, first) in groups.head(_MAX_SHOWN).iterrows())
    more = f" (and {len(groups) - _MAX_SHOWN} more)" if len(groups) > _MAX_SHOWN else ""
    return f"{len(groups)} series: {shown}{more}"


def validate(df: pd.DataFrame, *, name: str = "series frame", fixes: str = "pandas") -> pd.DataFrame:
    """Check that ``df`` is a series frame and return it unchanged; raise :class:`FrameError` if not.

    Checks columns, dtypes (``unique_id`` str, ``ds`` UTC-aware, ``y`` and exogenous columns float64), order,
    duplicate ``(unique_id, ds)``, infinite values and that each series' timestamps lie on one regular grid
    (missing steps are allowed here; :func:`find_gaps` lists them and :func:`regularize` fills them with NaN).
    The error names up to five offending rows and says how to fix them: with pandas code (``fixes='pandas'``)
    or, for a frame read from a file (``fixes='file'``), in the file.
    """
    if fixes not in ("pandas", "file"):
        raise FrameError(f"validate: fixes must be 'pandas' or 'file', got {fixes!r}")
    _check_columns(df, SERIES_COLUMNS, name, fixes)
    if df.empty:
        raise FrameError(f"{name}: the frame has no rows; check the query, file or time range that produced it")
    _check_ids_and_times(df, name)
    _check_values(df, [c for c in df.columns if c not in ("unique_id", "ds")], name, fixes)
    _check_order_and_steps(df, name, fixes)
    negative = _fresh_negative(df, ["y"], "y")
    if negative:
        logger.warning("%s: y is negative in %s; demand cannot be negative: check the source (a counter "
                       "needs rate(), a difference can go below 0)", name, negative)
    return df


def _fresh_negative(df: pd.DataFrame, cols: Sequence[str], kind: str) -> str | None:
    """:func:`negative_values` of the series not yet warned about in this run (see ``capforecast._reported``)."""
    from capforecast import _reported

    neg = (df[list(cols)].to_numpy(dtype=float) < 0).any(axis=1)
    if not neg.any():
        return None
    ids = _reported.fresh(kind, df.loc[neg, "unique_id"].astype(str))
    return negative_values(df[df["unique_id"].astype(str).isin(ids)], cols) if ids else None


def _series_steps(df: pd.DataFrame) -> pd.Series:
    """The regular (most common) step of each series; series with one row are left out."""
    codes, uniques = pd.factorize(df["unique_id"], sort=False)
    diffs = np.diff(_ns(df["ds"]))
    keep = codes[1:] == codes[:-1]
    steps = _modes(codes[1:][keep], diffs[keep])
    steps.index = uniques[steps.index]
    return pd.to_timedelta(steps, unit="ns")


def infer_step(df: pd.DataFrame) -> pd.Timedelta:
    """Return the one regular step shared by every series of ``df``.

    Raises :class:`FrameError` when series have different steps (resample them to one step) or when no series
    has two rows.
    """
    _check_columns(df, ("unique_id", "ds"), "series frame")
    steps = _series_steps(df).dropna()
    if steps.empty:
        raise FrameError(
            "series frame: cannot infer the step, no series has two or more rows; give the series more history "
            "(at least two time steps)"
        )
    distinct = steps.unique()
    if len(distinct) > 1:
        detail = ", ".join(f"{uid}={pd.Timedelta(s)}" for uid, s in steps.head(_MAX_SHOWN).items())
        coarsest = _offset(pd.Timedelta(steps.max()))
        raise FrameError(
            f"series frame: series have different steps ({detail}); put them on one step, e.g. average the finer "
            f"ones to {coarsest} (the coarsest), or forecast them separately"
        )
    return pd.Timedelta(distinct[0])


# --------------------------------------------------------------------------------------------- forecasts

def validate_forecast(df: pd.DataFrame, *, name: str = "forecast frame", fixes: str = "pandas") -> pd.DataFrame:
    """Check that ``df`` is a forecast frame and return it; raise :class:`FrameError` if not.

    Requires ``unique_id``, ``ds`` (UTC), ``model``, ``yhat``, finite values, and quantile columns that never
    cross (``p50 <= p90 <= ...`` on every row). ``fixes``: as in :func:`validate`.
    """
    _check_columns(df, FORECAST_COLUMNS, name, fixes)
    if df.empty:
        raise FrameError(f"{name}: the frame has no rows")
    _check_ids_and_times(df, name)
    qcols = list(quantile_columns(df).values())
    for col in ["yhat", *qcols]:
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise FrameError(
                f"{name}: column {col!r} has {int(bad.sum())} missing or infinite value(s): "
                f"{_rows(df, bad, ('unique_id', 'ds', 'model', col))}; a forecast must be finite everywhere"
            )
    if len(qcols) > 1:
        q = df[qcols].to_numpy(dtype=float)
        crossed = (np.diff(q, axis=1) < 0).any(axis=1)
        if crossed.any():
            raise FrameError(
                f"{name}: quantile columns cross on {int(crossed.sum())} row(s): "
                f"{_rows(df, crossed, ('unique_id', 'ds', *qcols))}; sort each row's quantiles "
                + ("(np.sort(values, axis=1)) or fix the model" if fixes == "pandas" else
                   "in the file, or forecast again with capforecast forecast")
            )
    dup = df.duplicated(["unique_id", "ds", "model"], keep=False).to_numpy()
    if dup.any():
        raise FrameError(f"{name}: duplicate (unique_id, ds, model) rows: {_rows(df, dup)}")
    negative = _fresh_negative(df, ["yhat", *qcols], "forecast")
    if negative:
        logger.warning("%s: yhat or a quantile is negative in %s; models forecast negative demand only from "
                       "negative history: check its source", name, negative)
    return df


from capforecast._gaps import find_gaps, regularize  # noqa: E402 - they validate with this module's checks
