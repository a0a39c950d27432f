"""Read CSV and parquet files into a series frame (long or wide layout, any column names).

Examples
--------
Long layout, one row per (series, time), columns named as you like:

>>> frame = read_series("data/sample/gpu_usage.csv", id_col="pool", time_col="timestamp",
...                     target_col="gpus_busy", exog_cols=["tasks_pending"])  # doctest: +SKIP

Wide layout, one column per series:

>>> frame = read_series("wide.csv", layout="wide", time_col="time")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from capforecast import frames
from capforecast.errors import FrameError, IngestError

__all__ = ["read_series", "read_table", "write_series"]

_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``.csv`` (optionally gzipped) or ``.parquet`` file into a DataFrame, as it is."""
    p = Path(path)
    name = p.name.lower()
    if not name.endswith(_SUFFIXES):
        raise IngestError(f"{p}: unknown file type; use one of {', '.join(_SUFFIXES)}")
    if not p.is_file():
        raise IngestError(f"{p}: no such file; check the path (relative paths start at {Path.cwd()})")
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(p)
        return pd.read_csv(p)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"{p}: cannot read it as {p.suffix} ({exc}); is the file complete?") from None


def _need(df: pd.DataFrame, cols: Sequence[str], path: Path, option: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise IngestError(
            f"{path}: column(s) {missing} not found; the file has {list(df.columns)}. Name the right ones with "
            f"{option}"
        )


def _lines(raw: pd.Series, bad: np.ndarray) -> str:
    """The first five offending values with their file line numbers (line 1 is the header)."""
    shown = zip(np.flatnonzero(bad)[:5], raw[bad].head(5), strict=False)
    return ", ".join(f"line {i + 2}: {v!r}" for i, v in shown)


def _parse_times(raw: pd.Series, path: Path, col: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw):
        parsed = pd.to_datetime(raw, unit="s", utc=True, errors="coerce")
    elif isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(raw):
        parsed = raw.dt.tz_localize("UTC") if raw.dt.tz is None else raw.dt.tz_convert("UTC")
    else:
        parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
        retry = parsed.isna() & raw.notna()
        if retry.any():
            parsed[retry] = pd.to_datetime(raw[retry], utc=True, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise IngestError(
            f"{path}: {int(bad.sum())} unparseable timestamp(s) in column {col!r} ({_lines(raw, bad)}); use RFC 3339 "
            "(2026-05-01T00:00:00Z) or Unix seconds, or fix/remove those rows"
        )
    return parsed


def _to_float(raw: pd.Series, path: Path, col: str) -> pd.Series:
    values = pd.to_numeric(raw, errors="coerce")
    bad = (values.isna() & raw.notna()).to_numpy()
    if bad.any():
        raise IngestError(
            f"{path}: {int(bad.sum())} non-numeric value(s) in column {col!r} ({_lines(raw, bad)}); leave a missing "
            "value empty instead of writing text"
        )
    return values.astype("float64")


def read_series(
    path: str | os.PathLike[str],
    *,
    layout: str = "long",
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    exog_cols: Sequence[str] | None = None,
    value_cols: Sequence[str] | None = None,
    id_value: str | None = None,
) -> pd.DataFrame:
    """Read a CSV or parquet file into a validated series frame.

    Parameters
    ----------
    path : ``.csv``, ``.csv.gz`` or ``.parquet`` file.
    layout : ``'long'`` (one row per series and time) or ``'wide'`` (a time column and one column per series).
    id_col, time_col, target_col : the file's columns holding the series id, the time and the value (long).
        Timestamps may be RFC 3339 text or Unix seconds; text without an offset is taken as UTC.
    exog_cols : extra columns to keep as exogenous features (long layout). Default: every other numeric column.
    value_cols : the series columns (wide layout). Default: every column but the time column.
    id_value : the id of the single series when a long file has no id column.

    Missing values stay missing (NaN); missing rows stay missing (see :func:`capforecast.frames.regularize`).
    """
    p = Path(path)
    raw = read_table(p)
    if raw.empty:
        raise IngestError(f"{p}: the file has no rows")
    if layout == "wide":
        _need(raw, [time_col], p, "time_col=")
        series = list(value_cols) if value_cols is not None else [c for c in raw.columns if c != time_col]
        _need(raw, series, p, "value_cols=")
        if not series:
            raise IngestError(f"{p}: no series columns besides {time_col!r}; check layout='wide' is right")
        ds = _parse_times(raw[time_col], p, time_col)
        parts = [
            pd.DataFrame({"unique_id": str(c), "ds": ds, "y": _to_float(raw[c], p, str(c))}) for c in series
        ]
        frame = pd.concat(parts, ignore_index=True)
    elif layout == "long":
        need = [time_col, target_col] + ([] if id_value is not None else [id_col])
        _need(raw, need, p, "id_col=, time_col=, target_col= (or id_value= for a single series)")
        ids = pd.Series(id_value, index=raw.index) if id_value is not None else raw[id_col]
        missing_id = ids.isna().to_numpy()
        if missing_id.any():
            raise IngestError(f"{p}: {int(missing_id.sum())} row(s) without a series id in {id_col!r} "
                              f"(first at line {int(np.flatnonzero(missing_id)[0]) + 2}); fill or remove them")
        frame = pd.DataFrame(
            {
                "unique_id": ids.astype(str),
                "ds": _parse_times(raw[time_col], p, time_col),
                "y": _to_float(raw[target_col], p, target_col),
            }
        )
        taken = {id_col, time_col, target_col}
        if exog_cols is None:
            exog = [c for c in raw.columns if c not in taken and pd.api.types.is_numeric_dtype(raw[c])]
        else:
            _need(raw, exog_cols, p, "exog_cols=")
            exog = list(exog_cols)
        for col in exog:
            frame[str(col)] = _to_float(raw[col], p, str(col))
    else:
        raise IngestError(f"layout must be 'long' or 'wide', got {layout!r}")
    frame = frame.sort_values(["unique_id", "ds"], kind="stable", ignore_index=True)
    try:
        return frames.validate(frame, name=str(p))
    except FrameError as exc:
        raise IngestError(str(exc)) from None


def write_series(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a series or forecast frame to ``.csv`` or ``.parquet`` atomically (timestamps as RFC 3339 UTC)."""
    from capforecast._io import write_frame

    return write_frame(df, path)
