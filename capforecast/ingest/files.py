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

import lzma
import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from capforecast import frames
from capforecast.errors import FrameError, IngestError, spell

__all__ = ["read_series", "read_table", "write_series"]

_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".parquet", ".pq")
_COMPRESSED = {".gz": " (gzip)", ".bz2": " (bzip2)", ".xz": " (xz)", ".zip": " (zip)"}
#: what reading a damaged file raises: pandas' parser errors are ValueErrors; gzip.BadGzipFile and bz2's
#: errors are OSErrors; a truncated gzip stream is an EOFError; zlib, lzma and zipfile have their own
_CORRUPT = (ValueError, OSError, EOFError, UnicodeDecodeError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)
_DECIMAL_COMMA = r"[-+]?\d+,\d+|[-+]?\d+"


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``.csv`` (optionally compressed) or ``.parquet`` file into a DataFrame, as it is.

    CSV fields may be separated by ``,``, ``;`` or tabs (found from the header line); a ``;``-separated file
    whose numbers are written with a decimal comma (``1,5``) is read as such. A truncated or corrupt file
    (compressed or not) raises :class:`IngestError` naming the file.
    """
    p = Path(path)
    name = p.name.lower()
    if not name.endswith(_SUFFIXES):
        raise IngestError(f"{p}: unknown file type; use one of {', '.join(_SUFFIXES)}")
    if not p.is_file():
        raise IngestError(f"{p}: no such file; check the path (relative paths start at {Path.cwd()})")
    parquet = name.endswith((".parquet", ".pq"))
    errors: tuple[type[BaseException], ...] = _CORRUPT
    if parquet:
        import pyarrow

        errors += (pyarrow.ArrowException,)  # ArrowNotImplementedError and ArrowTypeError are no ValueError
    try:
        return pd.read_parquet(p) if parquet else _read_csv(p)
    except errors as exc:
        kind = "parquet" if parquet else "CSV" + _COMPRESSED.get(p.suffix.lower(), "")
        reason = " ".join(str(exc).split()) or type(exc).__name__
        rows = (", or has rows with more fields than its header (numbers with a decimal comma need ';' between "
                "fields)") if isinstance(exc, pd.errors.ParserError) else ""
        raise IngestError(
            f"{p}: cannot read it as {kind} ({type(exc).__name__}: {reason}); is the file complete? It may be "
            f"truncated or corrupt (copy or export it again), or of another format{rows}"
        ) from None


def _read_csv(p: Path) -> pd.DataFrame:
    header = pd.read_csv(p, nrows=0).columns
    only = str(header[0]) if len(header) == 1 else ""
    sep = ";" if ";" in only else "\t" if "\t" in only else ","
    df = pd.read_csv(p, sep=sep)
    if not isinstance(df.index, pd.RangeIndex):  # pandas took the extra first field of every row as an index
        raise IngestError(
            f"{p}: every row has {df.index.nlevels} more field(s) than the header {list(df.columns)}; add the "
            "missing column name(s), or, if numbers use a decimal comma (1,5), separate the fields with ';'"
        )
    text = [df[c].dropna().astype(str) for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if sep != "," and any(len(t) and t.str.fullmatch(_DECIMAL_COMMA).all() for t in text):
        df = pd.read_csv(p, sep=sep, decimal=",")
    return df


def _need(df: pd.DataFrame, cols: Sequence[str], path: Path, option: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise IngestError(
            f"{path}: column(s) {missing} not found; the file has {list(df.columns)}"
            + (f". Name the right ones with {option}" if option else "")
        )


def _lines(raw: pd.Series, bad: np.ndarray) -> str:
    """The first five offending values with where they are in the file (the index: its line or row numbers)."""
    label = raw.index.name or "row"
    return ", ".join(f"{label} {i}: {v!r}" for i, v in raw[bad].head(5).items())


def _number_rows(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Index ``raw`` by where each row is in the file, so every error cites it: CSV lines (the header is
    line 1) or parquet rows (from 1)."""
    parquet = path.name.lower().endswith((".parquet", ".pq"))
    first, label = (1, "row") if parquet else (2, "line")
    return raw.set_axis(pd.RangeIndex(first, first + len(raw), name=label), axis=0)


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
    options: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read a CSV or parquet file into a validated series frame.

    Parameters
    ----------
    path : ``.csv`` (also gzip, bzip2, xz or zip compressed: ``.csv.gz``...) or ``.parquet`` file.
    layout : ``'long'`` (one row per series and time), ``'wide'`` (a time column and one column per series)
        or ``'auto'`` (long if the file has ``id_col`` or ``target_col``, else wide).
    id_col, time_col, target_col : the file's columns holding the series id, the time and the value (long).
        Timestamps may be RFC 3339 text or Unix seconds; text without an offset is taken as UTC.
    exog_cols : extra columns to keep as exogenous features (long layout). Default: every other numeric column.
    value_cols : the series columns (wide layout). Default: every column but the time column.
    id_value : the id of the single series when a long file has no id column.
    options : how the caller spells these arguments in error messages, e.g. the command line's
        ``{"id_col": "--id-col"}``; default: as Python keywords (``id_col=``).

    Missing values stay missing (NaN); missing rows stay missing (see :func:`capforecast.frames.regularize`).
    Errors cite the file's line (CSV) or row (parquet) numbers.
    """
    p = Path(path)
    raw = read_table(p)
    if raw.empty:
        raise IngestError(f"{p}: the file has no rows")
    raw = _number_rows(raw, p)
    if layout == "auto":
        wide = time_col in raw.columns and all(pd.api.types.is_numeric_dtype(raw[c]) for c in raw.columns
                                               if c != time_col)
        layout = "long" if id_value is not None or {id_col, target_col} & set(raw.columns) or not wide else "wide"
    if layout == "wide":
        _need(raw, [time_col], p, spell(options, "time_col"))
        series = list(value_cols) if value_cols is not None else [c for c in raw.columns if c != time_col]
        _need(raw, series, p, spell(options, "value_cols"))
        if not series:
            raise IngestError(f"{p}: no series columns besides {time_col!r}; is the file in wide layout "
                              f"({spell(options, 'layout', value='wide')})?")
        ds = _parse_times(raw[time_col], p, time_col)
        parts = [
            pd.DataFrame({"unique_id": str(c), "ds": ds, "y": _to_float(raw[c], p, str(c))}) for c in series
        ]
        frame = pd.concat(parts)
    elif layout == "long":
        need = [time_col, target_col] + ([] if id_value is not None else [id_col])
        _need(raw, need, p, spell(options, "id_col", "time_col", "target_col")
              + (" (or id_value= for a single series)" if options is None else "")
              + f", or read a wide file (a time column, one column per series) with "
              f"{spell(options, 'layout', value='wide')}")
        ids = pd.Series(id_value, index=raw.index) if id_value is not None else raw[id_col]
        missing_id = ids.isna().to_numpy()
        if missing_id.any():
            raise IngestError(f"{p}: {int(missing_id.sum())} row(s) without a series id in {id_col!r} "
                              f"(first at {raw.index.name} {raw.index[missing_id][0]}); fill or remove them")
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
            _need(raw, exog_cols, p, spell(options, "exog_cols"))
            exog = list(exog_cols)
        for col in exog:
            frame[str(col)] = _to_float(raw[col], p, str(col))
    else:
        flag = options.get("layout", "layout") if options is not None else "layout"
        raise IngestError(f"{flag} must be 'long', 'wide' or 'auto', got {layout!r}")
    frame = frame.sort_values(["unique_id", "ds"], kind="stable")
    try:
        frames.validate(frame, name=str(p), fixes="file")
    except FrameError as exc:
        raise IngestError(str(exc)) from None
    return frame.reset_index(drop=True)


def write_series(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a series or forecast frame to ``.csv`` or ``.parquet`` atomically (timestamps as RFC 3339 UTC)."""
    from capforecast._io import write_frame

    return write_frame(df, path)
