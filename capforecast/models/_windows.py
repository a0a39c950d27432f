"""Training windows for the LSTM, drawn fresh for every batch from one flat array of all series.

Pure numpy. :class:`SeriesBank` holds every series' input rows end to end (each front-padded by ``L - 1``
phase-aligned rows flagged unobserved and back-padded by ``H`` rows with a missing target), so a window at
any origin is one fancy-indexing gather and nothing is materialised up front. :meth:`SeriesBank.batch` turns
a set of origins into the network's inputs, normalised by the **level at the origin** (the mean of the last
season), with the **seasonal-naive anchor** subtracted from the target, and a per-window weight that turns
the loss into MASE units:

* ``past``   ``(n, D, m * C)``: the last ``D = L / m`` seasons as rows (a day of hourly steps per row); the
  target channel divided by the level, the observed flag, the exogenous channels.
* ``glob``   ``(n, 2)``: ``log(level)`` and ``log(mase_scale / level)``; with ``calendar=True`` also the
  calendar of the first target step (4 more).
* ``anchor`` ``(n, H)``: the last season repeated (or the median season of the window), divided by the level.
* ``target`` ``(n, H)``: ``y / level - anchor``; NaN where missing (left out of the loss).
* ``weight`` ``(n,)``: ``level / mase_scale``, so a residual of one level unit costs what it costs in MASE.

Examples
--------
>>> import numpy as np, pandas as pd
>>> y = np.tile(np.arange(1.0, 25.0), 4)             # four days of an hourly profile
>>> t0 = pd.Timestamp("2026-01-05", tz="UTC")
>>> bank = SeriesBank([y], [np.zeros((96, 0))], [t0], pd.Timedelta("1h"), input_steps=48, horizon=24, m=24)
>>> b = bank.batch(np.array([bank.origin(0, 71)]))
>>> b["past"].shape, b["glob"].shape, float(np.nanmax(np.abs(b["target"])))  # a perfect daily profile
((1, 2, 48), (1, 2), 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from capforecast.models._features import LEVEL_FLOOR, calendar_features, fill_for_input

__all__ = ["SeriesBank", "mase_scale", "MASE_FLOOR"]

#: Smallest in-sample seasonal error a window is weighted by, in units of the series' own scale.
MASE_FLOOR = 0.01


def mase_scale(y: np.ndarray, m: int) -> float:
    """Mean absolute seasonal difference of the observed values (MASE's denominator), floored."""
    if len(y) <= m:
        return 1.0
    d = np.abs(y[m:] - y[:-m])
    d = d[np.isfinite(d)]
    return max(float(d.mean()) if d.size else 1.0, MASE_FLOOR)


class SeriesBank:
    """All series' scaled input rows end to end; builds normalised batches at any origin (module docstring).

    Parameters
    ----------
    targets : per series, the scaled target (NaN where missing or masked).
    exogs : per series, the scaled exogenous columns ``(T, E)`` (gap-filled).
    first_ds, step : each series' first timestamp and the common step (for the calendar).
    mase : each series' MASE scale (default: computed from ``targets``; give the training ones for a context).
    calendar : add the calendar of the first target step to the global features.
    anchor : ``"seasonal_naive"`` (the last season repeated) or ``"seasonal_median"`` (the median of each step
        of the season over the window's seasons, repeated).
    input_steps, horizon, m : window length ``L`` (a multiple of ``m``), steps forecast, season length.
    """

    def __init__(self, targets: Sequence[np.ndarray], exogs: Sequence[np.ndarray], first_ds: Sequence[pd.Timestamp],
                 step: pd.Timedelta, *, input_steps: int, horizon: int, m: int,
                 mase: Sequence[float] | None = None, calendar: bool = False,
                 anchor: str = "seasonal_naive", weekly: bool = False) -> None:
        self.L, self.H, self.m = int(input_steps), int(horizon), int(m)
        self.week = 7 * self.m if weekly and self.L >= 7 * self.m else 0
        self.use_calendar = bool(calendar)
        self.anchor = anchor
        self.first_ns = np.asarray([pd.Timestamp(t).value for t in first_ds], dtype=np.int64)
        self.step_ns = int(pd.Timedelta(step).value)
        if self.L % self.m:
            raise ValueError(f"input_steps {self.L} is not a multiple of the season {self.m}")
        rows: list[np.ndarray] = []
        tgt: list[np.ndarray] = []
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.scales: list[float] = []
        offset = 0
        for y, ex in zip(targets, exogs, strict=True):
            T = len(y)
            x = np.column_stack([fill_for_input(y, self.m), np.isfinite(y).astype(float), ex])
            pad = self.L - 1
            src = np.mod(np.arange(-pad, 0), self.m) if T >= self.m else np.zeros(pad, dtype=int)
            front = x[src].copy()
            front[:, 1] = 0.0
            back = np.zeros((self.H, x.shape[1]))
            rows += [front, x, back]
            tgt += [np.full(pad, np.nan), y, np.full(self.H, np.nan)]
            self.starts.append(offset + pad)
            self.lengths.append(T)
            self.scales.append(mase_scale(y, self.m) if mase is None else float(mase[len(self.scales)]))
            offset += pad + T + self.H
        self.x = np.concatenate(rows).astype(np.float32)
        self.y = np.concatenate(tgt).astype(np.float32)
        self.starts_a = np.asarray(self.starts, dtype=np.int64)
        self.mase_a = np.asarray(self.scales, dtype=np.float32)
        self.series_of_row = np.repeat(np.arange(len(self.starts)),
                                       [self.L - 1 + n + self.H for n in self.lengths])

    @staticmethod
    def inputs(b: dict) -> dict:
        """The network's inputs out of a :meth:`batch`."""
        return {k: b[k] for k in ("past", "glob", "delta") if k in b}

    def origin(self, series: int, t: int) -> int:
        """The flat row index of step ``t`` of series ``series``."""
        return int(self.starts[series] + t)

    def origins(self, *, cut: int = 0) -> np.ndarray:
        """Every usable training origin (flat row indices): at least one season of the series before it, and
        at least one target step before ``T - cut``."""
        out = [s + np.arange(self.m - 1, n - cut - 1) for s, n in zip(self.starts, self.lengths, strict=True)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def mask_after(self, cut: int) -> np.ndarray:
        """A copy of the flat target with each series' last ``cut`` steps set to NaN (held out)."""
        y = self.y.copy()
        if cut > 0:
            for s, n in zip(self.starts, self.lengths, strict=True):
                y[s + n - cut: s + n] = np.nan
        return y

    def calendar(self, origins: np.ndarray) -> np.ndarray:
        """Calendar encodings of the first target step of each flat origin."""
        o = np.asarray(origins, dtype=np.int64)
        s = self.series_of_row[o]
        ns = self.first_ns[s] + (o - self.starts_a[s] + 1) * self.step_ns
        return calendar_features(pd.DatetimeIndex(pd.to_datetime(ns, utc=True)))

    def batch(self, origins: np.ndarray, target: np.ndarray | None = None) -> dict:
        """The network's inputs, target and weight for flat origins (``target``: a masked copy of the flat
        target, see :meth:`mask_after`)."""
        L, H, m = self.L, self.H, self.m
        o = np.asarray(origins, dtype=np.int64)
        past = self.x[o[:, None] + np.arange(-L + 1, 1)[None, :]]          # (n, L, C)
        level = np.maximum(past[:, -m:, 0].mean(axis=1), LEVEL_FLOOR)     # (n,)
        past = past.copy()
        past[:, :, 0] /= level[:, None]
        if self.anchor == "seasonal_median":  # the median of the same step over the window's seasons
            season = np.median(past[:, :, 0].reshape(len(o), L // m, m), axis=1)
        else:
            season = past[:, -m:, 0]
        anchor = np.tile(season, (1, -(-H // m)))[:, :H]
        mase = self.mase_a[self.series_of_row[o]]
        parts = [np.log(level), np.log(mase / level)] + ([self.calendar(o)] if self.use_calendar else [])
        glob = np.column_stack(parts).astype(np.float32)
        out = {
            "past": past.reshape(len(o), L // m, m * past.shape[2]).astype(np.float32),
            "glob": glob,
            "anchor": anchor.astype(np.float32),
            "level": level.astype(np.float32),
            "weight": (level / mase).astype(np.float32),
        }
        if self.week:  # the same step a week back, over the anchor: the network can switch to it per window
            pos = L - 1 - self.week + (np.arange(H) % self.week) + 1
            out["delta"] = (past[:, pos, 0] - anchor).astype(np.float32)
        y = self.y if target is None else target
        fut = y[o[:, None] + np.arange(1, H + 1)[None, :]]
        out["target"] = (fut / level[:, None] - anchor).astype(np.float32)
        return out
