"""The checks behind :func:`capforecast.frames.validate` and ``validate_forecast``, one per rule of the contract.

Each raises :class:`~capforecast.errors.FrameError` with one line that names up to five offending rows and the
fix: as pandas code (``fixes='pandas'``) or, for a frame read from a file (``fixes='file'``), in the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from capforecast.errors import FrameError

#: the columns of a series frame (re-exported by :mod:`capforecast.frames`)
SERIES_COLUMNS = ("unique_id", "ds", "y")
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
    """The most common step of each series (the smallest on ties): its regular step despite gaps.

    Indexed by series code, ascending. Plain numpy (runs of equal ``(code, step)`` after one sort): every fit
    and backtest window validates its frame, so this is on the hot path of ``auto``.
    """
    codes, steps = np.asarray(codes), np.asarray(steps)
    if not codes.size:
        return pd.Series([], index=pd.Index([], dtype=np.int64), dtype=np.int64)
    order = np.lexsort((steps, codes))
    c, s = codes[order], steps[order]
    starts = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (s[1:] != s[:-1])])
    counts = np.diff(np.r_[starts, c.size])
    rc, rs = c[starts], s[starts]
    best = np.lexsort((rs, -counts, rc))  # per code: the largest count first, then the smallest step
    first = best[np.r_[True, rc[best][1:] != rc[best][:-1]]]
    return pd.Series(rs[first], index=rc[first])


def _ns(ds: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds, whatever the column's resolution."""
    return ds.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
