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
import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

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


def find_gaps(df: pd.DataFrame, step: str | pd.Timedelta | None = None) -> pd.DataFrame:
    """List the missing steps of each series as runs: ``unique_id``, ``start``, ``end``, ``missing_steps``.

    ``start`` and ``end`` are the first and last missing timestamps of a run.
    """
    from capforecast._units import parse_duration

    step_td = infer_step(df) if step is None else parse_duration(step, name="step")
    diffs = df.groupby("unique_id", sort=False)["ds"].diff()
    hole = diffs > step_td
    prev = df["ds"] - diffs
    out = pd.DataFrame(
        {
            "unique_id": df.loc[hole, "unique_id"].to_numpy(),
            "start": (prev[hole] + step_td).to_numpy(),
            "end": (df.loc[hole, "ds"] - step_td).to_numpy(),
            "missing_steps": ((diffs[hole] / step_td).round().astype("int64") - 1).to_numpy(),
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
    if gaps not in ("nan", "raise"):
        raise FrameError(f"regularize: gaps must be 'nan' or 'raise', got {gaps!r}")
    validate(df)
    from capforecast._units import parse_duration

    step_td = infer_step(df) if step is None else parse_duration(step, name="step")
    if step_td <= pd.Timedelta(0):
        raise FrameError("regularize: step must be positive, e.g. '5m' or '1h'")
    found = find_gaps(df, step_td)
    off_grid = (df.groupby("unique_id", sort=False)["ds"].diff().dropna() % step_td) != pd.Timedelta(0)
    if off_grid.any():
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


# --------------------------------------------------------------------------------------------- forecasts


def quantile_column(q: float) -> str:
    """Name of the forecast column for quantile ``q``: 0.9 -> ``'p90'``, 0.995 -> ``'p99.5'``."""
    if isinstance(q, bool) or not isinstance(q, (int, float, np.floating)) or not 0.0 < float(q) < 1.0:
        raise FrameError(f"quantile {q!r} is not strictly between 0 and 1; write e.g. 0.5, 0.9 or 0.995")
    pct = round(float(q) * 100, 6)
    return f"p{int(pct)}" if pct == int(pct) else f"p{pct:g}"


def parse_quantiles(value: str | float | Iterable[float]) -> list[float]:
    """Parse ``'0.5,0.9'`` (or numbers) into a sorted list of distinct quantile levels in (0, 1)."""
    if isinstance(value, str):
        items: list[object] = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, (int, float)):
        items = [value]
    else:
        try:
            items = list(value)
        except TypeError:
            raise FrameError(f"quantiles: expected levels such as 0.5,0.9 or [0.5, 0.9], got {value!r}") from None
    levels = []
    for item in items:
        try:
            q = float(item)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise FrameError(f"quantiles: cannot read {item!r} as a number; write e.g. 0.5,0.9,0.99") from None
        if not 0.0 < q < 1.0 or math.isnan(q):
            raise FrameError(f"quantiles: {q} is not strictly between 0 and 1; write levels like 0.5,0.9,0.99")
        levels.append(q)
    if not levels:
        raise FrameError("quantiles: none given; write e.g. 0.5,0.9")
    return sorted(set(levels))


def quantile_columns(df: pd.DataFrame) -> dict[float, str]:
    """The quantile columns of a forecast frame, ``{level: column}`` sorted by level."""
    found = {}
    for col in df.columns:
        if isinstance(col, str) and col.startswith("p"):
            try:
                q = float(col[1:]) / 100
            except ValueError:
                continue
            if 0 < q < 1 and quantile_column(q) == col:
                found[q] = col
    return dict(sorted(found.items()))


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
