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
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

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

SERIES_COLUMNS = ("unique_id", "ds", "y")
FORECAST_COLUMNS = ("unique_id", "ds", "model", "yhat")
_MAX_SHOWN = 5


def _rows(df: pd.DataFrame, mask: np.ndarray | pd.Series, cols: Sequence[str] = SERIES_COLUMNS) -> str:
    """Describe up to five offending rows (index and key columns) for an error message.

    The index names what it counts (``line`` for a frame read from a CSV file by ``read_series``), else ``row``.
    """
    bad = df.loc[np.asarray(mask, dtype=bool), [c for c in cols if c in df.columns]]
    label = df.index.name if isinstance(df.index.name, str) else "row"
    shown = "; ".join(
        f"{label} {idx}: " + ", ".join(f"{c}={row[c]!r}" if c != "ds" else f"ds={row[c]}" for c in bad.columns)
        for idx, row in bad.head(_MAX_SHOWN).iterrows()
    )
    more = f" (and {len(bad) - _MAX_SHOWN} more)" if len(bad) > _MAX_SHOWN else ""
    return shown + more


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


def _check_columns(df: object, required: Sequence[str], name: str, fixes: str = "pandas") -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise FrameError(f"{name}: expected a pandas DataFrame, got {type(df).__name__}")
    repeated = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if repeated:
        raise FrameError(f"{name}: column(s) {repeated} appear more than once; keep one of each "
                         "(e.g. df.loc[:, ~df.columns.duplicated()])")
    missing = [c for c in required if c not in df.columns]
    if missing and fixes == "file":
        raise FrameError(f"{name}: missing column(s) {missing}; found {list(df.columns)}. The file needs the columns "
                         f"{list(required)}, as capforecast writes them")
    if missing:
        raise FrameError(
            f"{name}: missing column(s) {missing}; found {list(df.columns)}. Rename your columns to "
            f"{list(required)} (e.g. df.rename(columns={{'time': 'ds', 'value': 'y'}})) or read the file with "
            "capforecast.ingest.files.read_series(..., id_col=, time_col=, target_col=)"
        )
    return df


def _check_ids_and_times(df: pd.DataFrame, name: str) -> None:
    ids = df["unique_id"]
    if not (pd.api.types.is_string_dtype(ids) or pd.api.types.is_object_dtype(ids)):
        raise FrameError(
            f"{name}: unique_id must be strings, got dtype {ids.dtype}; fix with "
            "df['unique_id'] = df['unique_id'].astype(str)"
        )
    uniques = pd.unique(ids.to_numpy(dtype=object))
    if all(isinstance(v, str) for v in uniques):
        not_str = np.zeros(len(ids), dtype=bool)
    else:
        not_str = ~ids.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    if not_str.any():
        raise FrameError(
            f"{name}: unique_id has {int(not_str.sum())} non-string or missing value(s): {_rows(df, not_str)}; "
            "fix with df['unique_id'] = df['unique_id'].astype(str), after dropping rows without an id"
        )
    ds = df["ds"]
    if not isinstance(ds.dtype, pd.DatetimeTZDtype):
        hint = (
            "df['ds'] = df['ds'].dt.tz_localize('UTC')"
            if pd.api.types.is_datetime64_dtype(ds)
            else "df['ds'] = pd.to_datetime(df['ds'], utc=True)"
        )
        raise FrameError(f"{name}: ds must be timezone-aware UTC timestamps, got dtype {ds.dtype}; fix with {hint}")
    if str(ds.dt.tz) != "UTC":
        raise FrameError(
            f"{name}: ds must be in UTC, got time zone {ds.dt.tz}; fix with df['ds'] = df['ds'].dt.tz_convert('UTC')"
        )
    if ds.isna().any():
        raise FrameError(f"{name}: ds has missing timestamps: {_rows(df, ds.isna())}; drop or fix those rows")


def _check_values(df: pd.DataFrame, cols: Iterable[str], name: str, fixes: str = "pandas") -> None:
    for col in cols:
        values = df[col]
        if values.dtype != np.float64:
            raise FrameError(
                f"{name}: column {col!r} must be float64, got {values.dtype}; fix with "
                f"df[{col!r}] = pd.to_numeric(df[{col!r}], errors='coerce').astype('float64')"
            )
        inf = np.isinf(values.to_numpy())
        if inf.any():
            fix = (f"e.g. df[{col!r}] = df[{col!r}].replace([np.inf, -np.inf], np.nan) to mark them missing"
                   if fixes == "pandas" else "e.g. leave the cell empty in the file to mark the value missing")
            raise FrameError(
                f"{name}: column {col!r} has {int(inf.sum())} infinite value(s): {_rows(df, inf)}; replace them, {fix}"
            )


def _check_order_and_steps(df: pd.DataFrame, name: str, fixes: str = "pandas") -> None:
    codes, uniques = pd.factorize(df["unique_id"], sort=False)
    ns = _ns(df["ds"])
    if (np.diff(codes) < 0).any() or not pd.Index(uniques).is_monotonic_increasing:
        raise FrameError(
            f"{name}: rows are not grouped and sorted by unique_id; fix with "
            "df = df.sort_values(['unique_id', 'ds'], ignore_index=True)"
        )
    same = codes[1:] == codes[:-1]
    diffs = ns[1:] - ns[:-1]
    back = np.zeros(len(df), dtype=bool)
    back[1:] = same & (diffs < 0)
    if back.any():
        raise FrameError(
            f"{name}: timestamps are not sorted within a series: {_rows(df, back)}; fix with "
            "df = df.sort_values(['unique_id', 'ds'], ignore_index=True)"
        )
    dup = np.zeros(len(df), dtype=bool)
    dup[1:] = same & (diffs == 0)
    if dup.any():
        dup[:-1] |= dup[1:]
        fix = ("e.g. df = df.groupby(['unique_id', 'ds'], as_index=False).mean() or "
               "drop_duplicates(['unique_id', 'ds'])" if fixes == "pandas"
               else "remove the repeated rows from the file (or average them into one)")
        raise FrameError(f"{name}: {int(dup.sum())} rows share a (unique_id, ds): {_rows(df, dup)}; keep one row "
                         f"per step, {fix}")
    if not same.any():
        return
    inner = diffs[same]
    inner_codes = codes[1:][same]
    step_ns = _modes(inner_codes, inner).reindex(inner_codes).to_numpy()
    off = inner % step_ns != 0
    if off.any():
        mask = np.zeros(len(df), dtype=bool)
        mask[1:][same] = off
        step = pd.Timedelta(int(step_ns[off][0]), "ns")
        fix = (f"e.g. df.set_index('ds').groupby('unique_id')['y'].resample({_offset(step)!r}).mean()"
               if fixes == "pandas" else f"e.g. average the values of each {_offset(step)} period in the file")
        raise FrameError(f"{name}: irregular steps: these rows are off their series' {step} grid: {_rows(df, mask)}; "
                         f"put the data on one step first, {fix}")


def _offset(step: pd.Timedelta) -> str:
    """A step as pandas and people write it: ``'1h'``, ``'5min'``, ``'1D'``."""
    text = pd.tseries.frequencies.to_offset(step).freqstr
    return text if text[:1].isdigit() else f"1{text}"


def _modes(codes: np.ndarray, steps: np.ndarray) -> pd.Series:
    """The most common step of each series (the smallest on ties): its regular step despite gaps."""
    counts = pd.Series(1, index=pd.MultiIndex.from_arrays([codes, steps])).groupby(level=[0, 1]).size()
    best = counts.groupby(level=0).idxmax()
    return pd.Series([step for _, step in best], index=best.index)


def _ns(ds: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds, whatever the column's resolution."""
    return ds.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)


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
