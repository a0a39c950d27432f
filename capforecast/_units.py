"""Parsing of durations and points in time, as users write them on the command line and in YAML."""

from __future__ import annotations

import datetime as _dt
import math
import numbers
import re

import numpy as np
import pandas as pd

from capforecast.errors import ConfigError

__all__ = ["DURATION_FORMS", "check_horizon", "format_duration", "format_time", "parse_duration", "parse_time"]

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


#: The accepted forms, shown by every error about a duration.
DURATION_FORMS = "15m, 1h, 90s, 1h30m (units ms, s, m, h, d, w)"


def parse_duration(
    value: str | int | float | pd.Timedelta | _dt.timedelta | np.timedelta64,
    *,
    name: str = "duration",
    allow_numbers: bool = True,
) -> pd.Timedelta:
    """Parse a Prometheus-style duration (``30s``, ``5m``, ``1h30m``, ``2d``, ``1w``) into a Timedelta.

    Text must carry a unit: ``'15'`` is an error, as is any number when ``allow_numbers=False`` (how YAML
    files are read: ``lead_time: 15`` would otherwise be 15 seconds). From Python, a bare int or float is
    seconds (``allow_numbers=True``, the default). pandas' compact spellings (``'15min'``, ``'2D'``) and
    Timedelta / timedelta values are accepted too. ``name`` is used in the error message.

    Examples
    --------
    >>> parse_duration("1h30m")
    Timedelta('0 days 01:30:00')
    >>> parse_duration(600)
    Timedelta('0 days 00:10:00')
    >>> parse_duration("15min")
    Timedelta('0 days 00:15:00')
    """
    if isinstance(value, (pd.Timedelta, _dt.timedelta, np.timedelta64)):
        td = pd.Timedelta(value)
    elif isinstance(value, bool):
        raise ConfigError(f"{name}: expected a duration such as {DURATION_FORMS}, got {value!r}")
    elif isinstance(value, numbers.Real):  # int, float and NumPy's numbers
        if not math.isfinite(float(value)):
            raise ConfigError(f"{name}: {value!r} is not a duration; write e.g. {DURATION_FORMS}")
        if not allow_numbers:
            raise ConfigError(f"{name}: {value!r} has no unit; write a number and a unit, e.g. {DURATION_FORMS}")
        td = _seconds(float(value), value, name)
    elif isinstance(value, str):
        td = _parse_text(value, name)
    else:
        raise ConfigError(f"{name}: expected a duration such as {DURATION_FORMS}, got {type(value).__name__}")
    if td is pd.NaT:
        raise ConfigError(f"{name}: {value!r} is not a duration; write e.g. {DURATION_FORMS}")
    if td < pd.Timedelta(0):
        raise ConfigError(f"{name}: a duration cannot be negative, got {value!r}; write e.g. {DURATION_FORMS}")
    return td


def _seconds(seconds: float, value: object, name: str) -> pd.Timedelta:
    try:
        # in nanoseconds, as every time capforecast adds it to is: a coarser Timedelta holds more, then overflows
        return pd.Timedelta(seconds=seconds).as_unit("ns")
    except (OverflowError, ValueError):  # beyond pandas' ~292 years (OutOfBoundsTimedelta is a ValueError)
        raise ConfigError(f"{name}: {value!r} is too long a duration (at most about 292 years); write e.g. "
                          f"{DURATION_FORMS}") from None


def _parse_text(value: str, name: str) -> pd.Timedelta:
    text = value.strip().lower()
    if re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?", text):
        raise ConfigError(f"{name}: {value!r} has no unit; write a number and a unit, e.g. {DURATION_FORMS}")
    pos, seconds = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if text and pos == len(text):
        return _seconds(seconds, value, name)
    if not re.fullmatch(r"(\d+(\.\d+)?[a-z]+)+", text):
        return _bad(value, name)
    try:  # pandas' compact spellings: 15min, 2D, 1hour
        return pd.Timedelta(value.strip())
    except (ValueError, OverflowError):
        return _bad(value, name)


def _bad(value: str, name: str) -> pd.Timedelta:
    if value.strip().startswith("-"):
        raise ConfigError(f"{name}: a duration cannot be negative, got {value!r}; write e.g. {DURATION_FORMS}")
    raise ConfigError(f"{name}: cannot read {value!r} as a duration; write a number and a unit, e.g. {DURATION_FORMS}")


def format_duration(td: pd.Timedelta | _dt.timedelta) -> str:
    """Format a Timedelta the way :func:`parse_duration` reads it (``5400s`` -> ``'1h30m'``)."""
    seconds = pd.Timedelta(td).total_seconds()
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{int(count)}{unit}")
    if seconds:
        parts.append(f"{int(round(seconds * 1000))}ms")
    return "".join(parts)


def format_time(ts: pd.Timestamp | _dt.datetime | float) -> str:
    """A point in time as RFC 3339 UTC to the second (``2026-05-01T00:00:00Z``); a number is Unix seconds.

    Examples
    --------
    >>> format_time(pd.Timestamp("2026-05-01 02:00", tz="Europe/Berlin"))
    '2026-05-01T00:00:00Z'
    >>> format_time(0)
    '1970-01-01T00:00:00Z'
    """
    if isinstance(ts, numbers.Real) and not isinstance(ts, bool):
        stamp = pd.Timestamp(float(ts), unit="s", tz="UTC")
    else:
        stamp = pd.Timestamp(ts)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | int | float | pd.Timestamp | _dt.datetime, *, name: str = "time") -> pd.Timestamp:
    """Parse a point in time (RFC 3339 / ISO 8601 text, or Unix seconds) into a UTC Timestamp.

    Naive datetimes and texts without an offset are taken as UTC.

    Examples
    --------
    >>> parse_time("2026-05-01T00:00:00Z")
    Timestamp('2026-05-01 00:00:00+0000', tz='UTC')
    >>> parse_time(1700000000)
    Timestamp('2023-11-14 22:13:20+0000', tz='UTC')
    """
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected RFC 3339 time or Unix seconds, got {value!r}")
    try:
        # numbers.Real, not (int, float): a NumPy integer is not an int, and pd.Timestamp reads it as nanoseconds
        if isinstance(value, numbers.Real):
            ts = pd.Timestamp(float(value), unit="s")
        elif isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
            ts = pd.Timestamp(float(value), unit="s")
        else:
            ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise ConfigError(
            f"{name}: cannot read {value!r} as a time; use RFC 3339 (e.g. 2026-05-01T00:00:00Z) "
            "or Unix seconds (e.g. 1777593600)"
        ) from None
    if ts is pd.NaT:
        raise ConfigError(f"{name}: {value!r} is not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def check_horizon(horizon: int, last: object, step: pd.Timedelta, name: str, *, example: str = "horizon=48") -> None:
    """Raise :class:`ConfigError` if ``horizon`` steps of ``step`` after ``last`` (the end of the data: a time or
    the times of each series) pass the latest time pandas can hold (about the year 2262).

    ``name`` is the argument as the caller wrote it (``--horizon 100000000``), ``example`` a fix in its spelling.
    Checked before any fit or forecast: such a forecast could never be written, and would first fill the memory.
    """
    end = pd.Series(last).max()
    most = int((pd.Timestamp.max.tz_localize("UTC") - end) // step)
    if horizon > most:
        raise ConfigError(f"{name} is too far ahead: at most {most} steps of {format_duration(step)} fit after "
                          f"{end:%Y-%m-%d %H:%M} UTC (times end in {pd.Timestamp.max.year}); e.g. {example}")
