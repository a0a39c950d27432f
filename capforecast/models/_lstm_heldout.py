"""What the LSTM learns from its held-out network: quantile offsets per step ahead, and how far to trust it.

One extra network is trained with the last ``V`` steps of every series held out (see ``lstm.py``); its
forecasts from origins whose whole target lies in those steps are out of sample. Two things come from them:

* :func:`shrink_weight` - how far the forecast is pulled back to the seasonal anchor. The median residual
  (network minus anchor) is multiplied by ``1 - w``, with the weight ``w`` in ``[0, 1]`` chosen on a grid to
  minimise the held-out absolute error in MASE units over all series: 0 where the network beats its anchor
  out of sample (M4), more where much of what it learnt is noise (16 bursty Helios pools: about 0.55).
  One weight for all series: one per series was measured worse (M4 validation MASE 0.869 against 0.835).
* :func:`conformal_table` - per level and step ahead, the conformal offset of the (shrunk) held-out
  quantiles, pooled over neighbouring steps, so a P90 one step ahead is narrower than 24 steps ahead.

Examples
--------
>>> import numpy as np
>>> target = np.array([[[1.0]], [[1.0]]])[..., 0]        # (n=2, H=1) residual targets over the anchor
>>> shrink_weight(target, np.full((2, 1), 3.0), np.ones(2))   # the network moves 3x too far
0.65
"""

from __future__ import annotations

import numpy as np

from capforecast.evaluation.conformal import conformal_offsets
from capforecast.models._lstm_train import quantiles_and_fields
from capforecast.models._windows import SeriesBank

__all__ = ["GRID", "calibrate", "conformal_table", "held_out_steps", "shrunk", "shrink_weight"]

#: Weights tried, 0 (the network as trained) to 1 (the anchor).
GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def shrink_weight(target: np.ndarray, median: np.ndarray, weight: np.ndarray) -> float:
    """The anchor's weight from held-out windows: the forecast is ``anchor + (1 - w) * residual``.

    ``target`` and ``median``: ``(n, H)`` residuals over the anchor (truth and the network's median, level
    units, NaN where unobserved); ``weight``: ``(n,)`` the MASE weight of each window. Returns the grid weight
    with the lowest mean weighted absolute error (ties go to the smaller weight, the network); 0 when no
    window has an observed target.
    """
    seen = np.isfinite(target) & np.isfinite(median)
    if not seen.any():
        return 0.0
    t, m = target[seen].astype(np.float64), median[seen].astype(np.float64)
    w = np.broadcast_to(np.asarray(weight, dtype=np.float64)[:, None], target.shape)[seen]
    scores = [float(np.mean(np.abs(t - (1.0 - g) * m) * w)) for g in GRID]  # one grid weight at a time: O(n H)
    return float(GRID[int(np.argmin(scores))])


def conformal_table(resid: np.ndarray, levels: list[float], median_index: int) -> np.ndarray:
    """Per step ahead and level, the conformal offset of held-out residuals ``resid`` ``(n, H, Q)`` (truth
    minus quantile); pooled over 5 neighbouring steps; the median's column is 0. Returns ``(H, Q)``."""
    H, Q = resid.shape[1], resid.shape[2]
    out = np.zeros((H, Q))
    for h in range(H):
        lo, hi = max(0, h - 2), min(H, h + 3)
        for j, q in enumerate(levels):
            if j != median_index:
                out[h, j] = float(np.nan_to_num(conformal_offsets(resid[:, lo:hi, j].ravel(), [q])[q]))
    return out


def held_out_steps(lengths: list[int], horizon: int, input_steps: int) -> int:
    """Default ``calibration_steps``: a whole input window after the horizon (every day of a week) when the
    median series keeps four more input windows to train on, else two horizons."""
    H, L = int(horizon), int(input_steps)
    return H + L if float(np.median(lengths)) >= H + 5 * L else 2 * H


def shrunk(resid: np.ndarray, weight: float, median_index: int) -> np.ndarray:
    """Residual quantiles ``(n, H, Q)`` with the median's move from the anchor scaled by ``1 - weight``; every
    level moves with the median, so the spread is kept."""
    return resid - weight * resid[..., median_index, None]


def calibrate(
    net: object, bank: SeriesBank, held: list[int], steps: int, levels: list[float], median_index: int,
    shrink: float | str,
) -> tuple[float, np.ndarray]:
    """The shrink weight (``shrink``, or chosen when ``'auto'``) and the conformal table ``(H, Q)`` from the
    held-out network ``net``: its forecasts from the origins of the series ``held`` whose whole target lies in
    their last ``steps`` steps."""
    H = bank.H
    calib = np.concatenate([bank.starts[i] + np.arange(bank.lengths[i] - steps - 1, bank.lengths[i] - H)
                            for i in held])
    pred, b = quantiles_and_fields([net], bank, calib, ("target", "weight"))  # one pass, in chunks
    weight = shrink_weight(b["target"], pred[..., median_index], b["weight"]) if shrink == "auto" else float(shrink)
    return weight, conformal_table(b["target"][:, :, None] - shrunk(pred, weight, median_index), levels, median_index)
