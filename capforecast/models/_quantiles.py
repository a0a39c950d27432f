"""Quantile levels for models that learn a fixed grid of levels (GBM, LSTM).

Such a model is trained on a grid (``quantiles=`` at construction, the median always included). At predict time
a requested level on the grid is returned as learned; a level between two grid levels is interpolated linearly
(monotone, so quantiles still never cross); a level outside the grid is refused with the fix.

Examples
--------
>>> import numpy as np
>>> training_levels((0.9, 0.1))
[0.1, 0.5, 0.9]
>>> select_levels([0.1, 0.5, 0.9], np.array([[[0.0, 1.0, 3.0]]]), [0.7], model="gbm")[0.7].round(6).tolist()
[[2.0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from capforecast.errors import ConfigError, ModelError

__all__ = ["select_levels", "training_levels"]


def training_levels(quantiles: Iterable[float]) -> list[float]:
    """Validate a grid of training levels and return it sorted, with 0.5 added when missing."""
    try:
        levels = sorted({float(q) for q in quantiles} | {0.5})
    except (TypeError, ValueError):
        raise ConfigError(f"quantiles={quantiles!r}: expected numbers in (0, 1), e.g. (0.1, 0.5, 0.9)") from None
    bad = [q for q in levels if not 0.0 < q < 1.0]
    if bad:
        raise ConfigError(f"quantiles: {bad} not strictly between 0 and 1; use levels such as 0.1, 0.5, 0.9, 0.99")
    return levels


def select_levels(
    grid: Sequence[float], values: np.ndarray, requested: Iterable[float], *, model: str
) -> dict[float, np.ndarray]:
    """Pick or interpolate ``requested`` levels from ``values`` of shape ``(..., len(grid))`` (last axis sorted)."""
    grid_arr = np.asarray(grid, dtype=float)
    out: dict[float, np.ndarray] = {}
    for q in requested:
        q = float(q)
        if q < grid_arr[0] - 1e-12 or q > grid_arr[-1] + 1e-12:
            raise ModelError(
                f"{model}: quantile {q:g} is outside the levels this model was trained on "
                f"({grid_arr[0]:g}..{grid_arr[-1]:g}); refit with quantiles=(..., {q:g}) "
                f"or ask for a level inside that range"
            )
        hit = np.flatnonzero(np.isclose(grid_arr, q, atol=1e-9))
        if hit.size:
            out[q] = values[..., int(hit[0])].copy()
            continue
        hi = int(np.searchsorted(grid_arr, q))
        lo = hi - 1
        w = (q - grid_arr[lo]) / (grid_arr[hi] - grid_arr[lo])
        out[q] = (1.0 - w) * values[..., lo] + w * values[..., hi]
    return out

