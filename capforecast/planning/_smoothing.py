"""Minimum window length with hysteresis: fewer, longer windows of held nodes, never below the raw plan.

A plan that follows the forecast step by step changes every hour; ops review each change and something must
apply it on time. :func:`hold_windows` raises each step to the most nodes of its **clock window**, the windows
of ``min_window`` counted from 00:00 UTC (``4h``: 00-04, 04-08, ...):

- a step is only ever raised, so a busy target the raw plan meets cannot get worse;
- the rule is monotone (more demand never gives fewer nodes) and deterministic;
- nodes step down only at a window boundary, and the lower level lasts the whole next window (hysteresis: no
  step down that would be undone within ``min_window``); pools share the boundaries, so their changes line up.

A plan made one step at a time (the simulator's hourly mode) sees only part of a window: ``held``, the nodes
earlier plans held, brings in the window's earlier steps, so such a walk never steps down inside a window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["count_windows", "hold_windows", "window_ids"]

_DAY_NS = pd.Timedelta(days=1).value


def window_ids(ds: pd.DatetimeIndex, min_window: pd.Timedelta) -> np.ndarray:
    """The clock window of each time: windows of ``min_window`` from each UTC midnight, as integer ids.

    Examples
    --------
    >>> ds = pd.date_range("2026-05-01 02:00", periods=4, freq="2h", tz="UTC")
    >>> ids = window_ids(ds, pd.Timedelta("4h"))
    >>> (ids == ids[0]).tolist()
    [True, False, False, False]
    """
    ns = pd.DatetimeIndex(ds).as_unit("ns").asi8  # UTC nanoseconds (a naive time is read as UTC)
    days = ns // _DAY_NS
    slot = (ns - days * _DAY_NS) // pd.Timedelta(min_window).value
    return days * 100_000 + slot


def hold_windows(
    nodes: np.ndarray, ds: pd.DatetimeIndex, min_window: pd.Timedelta, held: pd.Series | None = None
) -> np.ndarray:
    """``nodes`` (one per step of ``ds``) raised to the most nodes of each clock window of ``min_window``.

    ``held``: nodes that earlier plans held (a Series by ``ds``); those in the window of the first step, before
    it, count too. A ``min_window`` of one step or less returns ``nodes`` unchanged.

    Examples
    --------
    >>> ds = pd.date_range("2026-05-01", periods=8, freq="h", tz="UTC")
    >>> hold_windows(np.array([3, 5, 3, 6, 2, 2, 2, 2]), ds, pd.Timedelta("4h")).tolist()
    [6, 6, 6, 6, 2, 2, 2, 2]
    >>> hold_windows(np.array([2]), ds[5:6], pd.Timedelta("4h"), held=pd.Series([3, 4], index=ds[3:5])).tolist()
    [4]
    """
    raw = np.asarray(nodes, dtype=np.int64)
    ds = pd.DatetimeIndex(ds)
    step = ds[1] - ds[0] if len(ds) > 1 else pd.Timedelta(0)
    if not len(raw) or pd.Timedelta(min_window) <= step:
        return raw.copy()
    ids = window_ids(ds, min_window)
    windows, which = np.unique(ids, return_inverse=True)
    most = np.full(len(windows), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(most, which, raw)
    out = most[which]
    if held is not None and len(held):
        hds = pd.DatetimeIndex(held.index)
        hds = hds.tz_localize("UTC") if hds.tz is None else hds
        before = (window_ids(hds, min_window) == ids[0]) & (hds < ds[0])
        if before.any():
            first = ids == ids[0]
            out[first] = np.maximum(out[first], int(np.asarray(held.to_numpy())[before].max()))
    return out


def count_windows(nodes: np.ndarray) -> int:
    """Runs of equal consecutive node counts (a change of nodes starts a new window).

    Examples
    --------
    >>> count_windows(np.array([3, 3, 5, 5, 3])), count_windows(np.array([]))
    (3, 0)
    """
    n = np.asarray(nodes)
    return int(n.size and 1 + np.count_nonzero(np.diff(n) != 0))
