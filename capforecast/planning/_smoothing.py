"""Minimum window length with hysteresis: fewer, longer windows of held nodes, never below the raw plan.

A plan that follows the forecast step by step changes every hour; ops review each change and something must
apply it on time. :func:`hold_windows` turns the planned nodes into windows that last at least ``min_steps``
steps, by only ever *raising* a step (so a busy target met by the raw plan cannot get worse):

- **scale up at once**, to the largest need of the next ``min_steps`` steps (the new window covers them all,
  instead of climbing one step at a time);
- **scale in only when both** the window in force has lasted ``min_steps`` steps **and** the lower level lasts
  ``min_steps`` steps too (the largest need of the next ``min_steps`` steps is below the held level); the new
  level is that largest need.

Only the steps a plan covers are looked ahead (a single-step plan, as in the simulator's hourly mode, sees one
step: it still never scales in twice within ``min_steps``). The window in force before the plan (``level``, and
``age``, the steps it has lasted) carries a walk of plans, one after another, as one continuous plan.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["count_windows", "hold_windows", "min_steps", "window_in_force"]


def min_steps(min_window: pd.Timedelta, step: pd.Timedelta) -> int:
    """Steps of ``step`` that ``min_window`` spans (at least 1: a window is never shorter than a step).

    Examples
    --------
    >>> min_steps(pd.Timedelta("3h"), pd.Timedelta("1h")), min_steps(pd.Timedelta(0), pd.Timedelta("1h"))
    (3, 1)
    """
    return max(1, int(math.ceil(pd.Timedelta(min_window) / pd.Timedelta(step) - 1e-9)))


def hold_windows(
    nodes: np.ndarray, steps: int, *, level: int | None = None, age: int = 0
) -> np.ndarray:
    """Nodes held per step: ``nodes`` raised into windows of at least ``steps`` steps (see the module doc).

    ``level``/``age``: the nodes held just before ``nodes[0]`` and for how many steps (``None``: no window in
    force). The result is never below ``nodes`` and never above its maximum (or ``level``); ``steps=1`` returns
    ``nodes`` unchanged.

    Examples
    --------
    >>> hold_windows(np.array([3, 5, 3, 6, 2, 2, 2, 2]), 3).tolist()
    [5, 5, 5, 6, 6, 6, 2, 2]
    >>> hold_windows(np.array([3, 5, 3, 6, 2, 2, 2, 2]), 1).tolist()
    [3, 5, 3, 6, 2, 2, 2, 2]
    """
    raw = np.asarray(nodes, dtype=np.int64)
    out = raw.copy()
    steps = max(int(steps), 1)
    for i in range(len(raw)):
        need = int(raw[i])
        ahead = int(raw[i: i + steps].max())
        if level is None or need > level:
            level, age = ahead, 0  # scale up now, for the whole next window
        elif need < level and age >= steps and ahead < level:
            level, age = ahead, 0  # scale in: the window has lasted, and so will the lower level
        out[i] = level
        age += 1
    return out


def window_in_force(held: pd.Series | None, before: pd.Timestamp) -> tuple[int | None, int]:
    """``(level, age)`` of the window in force at ``before`` from the nodes earlier plans held (by ``ds``).

    Examples
    --------
    >>> s = pd.Series([4, 6, 6], index=pd.date_range("2026-05-01", periods=3, freq="h", tz="UTC"))
    >>> window_in_force(s, pd.Timestamp("2026-05-01 03:00", tz="UTC"))
    (6, 2)
    >>> window_in_force(None, pd.Timestamp("2026-05-01 03:00", tz="UTC"))
    (None, 0)
    """
    if held is None or not len(held):
        return None, 0
    idx = pd.DatetimeIndex(held.index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx
    values = np.asarray(held.to_numpy(), dtype=np.int64)[np.argsort(idx)][np.sort(idx) < before]
    if not values.size:
        return None, 0
    level = int(values[-1])
    changed = np.flatnonzero(values != level)
    return level, int(values.size - (changed[-1] + 1 if changed.size else 0))


def count_windows(nodes: np.ndarray) -> int:
    """Runs of equal consecutive node counts (a change of nodes starts a new window).

    Examples
    --------
    >>> count_windows(np.array([3, 3, 5, 5, 3])), count_windows(np.array([]))
    (3, 0)
    """
    n = np.asarray(nodes)
    return int(n.size and 1 + np.count_nonzero(np.diff(n) != 0))
