"""The names of forecast quantile columns: ``p`` + percent (``p50``, ``p90``, ``p99.5``), read and written.

Examples
--------
>>> quantile_column(0.995), parse_quantiles("0.9,0.5")
('p99.5', [0.5, 0.9])
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from capforecast.errors import FrameError

__all__ = ["parse_quantiles", "quantile_column", "quantile_columns"]


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
