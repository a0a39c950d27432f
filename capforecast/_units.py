"""Parsing of durations and points in time, as users write them on the command line and in YAML."""

from __future__ import annotations

import datetime as _dt
import numbers
import re

import pandas as pd

from capforecast.errors import ConfigError

__all__ = ["format_duration", "parse_duration", "parse_time"]

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int | float | pd.Timedelta | _dt.timedelta, *, name: str = "duration") -> pd.Timedelta:
    """Parse a Prometheus-style duration (``30s``, ``5m``, ``1h30m``, ``2d``, ``1w``) into a Timedelta.

    A bare number is taken as seconds. ``name`` is used in the error message.

    Examples
    --------
    >>> parse_duration("1h30m")
    Timedelta('0 days 01:30:00')
    >>> parse_duration(600)
    Timedelta('0 days 00:10:00')
    """
    if isinstance(value, (pd.Timedelta, _dt.timedelta)):
        td = pd.Timedelta(value)
    elif isinstance(value, bool):
        raise ConfigError(f"{name}: expected a duration such as '10m' or '1h', got {value!r}")
    elif isinstance(value, numbers.Real):  # int, float and NumPy's numbers
        td = pd.Timedelta(seconds=float(value))
    elif isinstance(value, str):
        text = value.strip().lower()
        try:
            td = pd.Timedelta(seconds=float(text))
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _DURATION_RE.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ConfigError(
                    f"{name}: cannot read {value!r} as a duration; write a number and a unit "
                    "(ms, s, m, h, d, w), e.g. '30s', '5m', '1h30m', '2d'"
                ) from None
            td = pd.Timedelta(seconds=seconds)
    else:
        raise ConfigError(f"{name}: expected a duration such as '10m' or '1h', got {type(value).__name__}")
    if td < pd.Timedelta(0):
        raise ConfigError(f"{name}: a duration cannot be negative, got {value!r}")
    return td


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
