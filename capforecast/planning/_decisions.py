"""The walk-forward building blocks of :mod:`capforecast.planning.simulate`: decisions, windows, pool bounds.

:func:`decision_schedule` lists the decisions of a mode, :func:`split_windows` places the validation and test
windows, :class:`PoolBounds` turns demand into nodes, :func:`score_window` scores a plan on the scored window
and says whether it met its target; :mod:`capforecast.planning.simulate` re-exports them all and describes
the protocol.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capforecast.errors import PlanningError, spell
from capforecast.planning.baselines import Decision
from capforecast.planning.scoring import score_nodes

MODES = ("nightly", "hourly")


@dataclass(frozen=True)
class PoolBounds:
    """What the simulator needs to know of a pool: GPUs per node, node bounds, price.

    Examples
    --------
    >>> PoolBounds(gpus_per_node=8).max_nodes
    inf
    """

    gpus_per_node: int = 8
    min_nodes: float = 0
    max_nodes: float = math.inf
    price_per_node_hour: float = 1.0

    def nodes(self, demand: np.ndarray) -> np.ndarray:
        """Nodes that hold ``demand`` GPUs, within the bounds (works on any array shape)."""
        n = np.ceil(np.maximum(np.asarray(demand, float), 0.0) / self.gpus_per_node - 1e-9)
        return np.clip(np.maximum(n, 0.0), self.min_nodes, self.max_nodes)


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise PlanningError(f"unknown simulation mode {mode!r}; use one of {', '.join(MODES)}")
    return mode


def decision_schedule(
    ds: pd.DatetimeIndex, start: int, stop: int, mode: str, *, lead_time: pd.Timedelta | str = "0s"
) -> list[Decision]:
    """Return the decisions that commit steps ``start..stop-1`` of a regular, sorted index ``ds``.

    ``lead_time``: how long a node takes to come up. A decision must be made that long before the first step
    it commits, so nightly decisions move from 00:00 to ``00:00 - lead_time`` and hourly ones commit the
    hour that the lead time makes reachable (``t + max(1h, lead_time)``, the lead rounded up to whole steps);
    each still sees every step observed by its own time. With ``lead_time`` up to 0 (nightly) or 1 h (hourly)
    the schedule is exactly the protocol of BENCHMARKS.md.

    Examples
    --------
    >>> ds = pd.date_range("2020-05-01", periods=72, freq="h", tz="UTC")
    >>> d = decision_schedule(ds, 30, 72, "nightly")
    >>> [(str(x.time), x.observed, len(x.targets)) for x in d]
    [('2020-05-02 00:00:00+00:00', 24, 18), ('2020-05-03 00:00:00+00:00', 48, 24)]
    >>> h = decision_schedule(ds, 30, 72, "hourly")[0]
    >>> (str(h.time), h.observed, h.targets.tolist())
    ('2020-05-02 05:00:00+00:00', 29, [30])
    >>> n = decision_schedule(ds, 30, 72, "nightly", lead_time="1h")[0]
    >>> (str(n.time), n.observed)
    ('2020-05-01 23:00:00+00:00', 23)
    """
    _check_mode(mode)
    if len(ds) < 2:
        raise PlanningError("a series needs at least two steps to be simulated; give it more history")
    step = ds[1] - ds[0]
    if not 0 < start < stop <= len(ds):
        raise PlanningError(
            f"the simulated window [{start}, {stop}) does not fit a series of {len(ds)} steps; "
            "shorten --test-days or give more history"
        )
    lead = pd.Timedelta(lead_time)
    lead = step * max(0, math.ceil(lead / step)) if lead > pd.Timedelta(0) else pd.Timedelta(0)
    labels = ds[start:stop]
    if mode == "nightly":
        times = labels.floor("D") - lead
    else:
        times = labels.floor("h") - max(pd.Timedelta("1h"), lead)
    decisions = []
    positions = np.arange(start, stop)
    for time in pd.unique(times):
        time = pd.Timestamp(time)
        observed = int(ds.searchsorted(time - step, side="right"))
        decisions.append(Decision(time=time, observed=observed, targets=positions[times == time]))
    return decisions


def split_windows(
    n_steps: int, step: pd.Timedelta, test_days: float, val_days: float, *, options: Mapping[str, str] | None = None
) -> tuple[int, int, int]:
    """Return ``(val_start, test_start, stop)`` positions of the validation and test windows.

    ``options``: how the caller spells ``test_days`` and ``val_days`` in the fix (the CLI: ``--test-days``).

    Examples
    --------
    >>> split_windows(744, pd.Timedelta("1h"), 7, 7)
    (408, 576, 744)
    """
    check_days(test_days, val_days, options=options)
    n_test = int(round(pd.Timedelta(days=test_days) / step))
    n_val = int(round(pd.Timedelta(days=val_days) / step))
    if n_test < 1 or n_val < 1:
        raise PlanningError(f"{spell(options, 'test_days', 'val_days')} must each cover at least one step of {step}")
    if n_test + n_val + 2 > n_steps:
        need = pd.Timedelta(days=test_days + val_days) + 2 * step
        # name the window that does not fit beside the other as given, and the longest it can be
        name, most = ("val_days", _days((n_steps - 2 - n_test) * step))
        if most <= 0:
            name, most = ("test_days", _days((n_steps - 2 - n_val) * step))
        fix = (f"use {spell(options, name, value=most)} or less" if most > 0
               else f"lower both {spell(options, 'test_days', 'val_days')}")
        raise PlanningError(
            f"a series of {n_steps} steps is too short for {test_days} test days after {val_days} validation "
            f"days; give at least {need} of data plus some history, or {fix}"
        )
    return n_steps - n_test - n_val, n_steps - n_test, n_steps


def check_days(test_days: float, val_days: float, *, options: Mapping[str, str] | None = None) -> None:
    """Refuse window lengths that are not a positive, finite number of days pandas can hold (``inf``, NaN, 1e300).

    ``options``: how the caller spells ``test_days`` and ``val_days`` in the fix (the CLI: ``--test-days``).
    """
    for name, value in (("test_days", test_days), ("val_days", val_days)):
        try:
            ok = (isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value) > 0
                  and pd.Timedelta(days=float(value)) is not pd.NaT)
        except (TypeError, ValueError, OverflowError):  # pandas' OutOfBoundsTimedelta is a ValueError
            ok = False
        if not ok:
            flag = spell(options, name, value=7)
            raise PlanningError(f"{spell(options, name).rstrip('=')} must be a positive number of days (at most "
                                f"about 290 years), got {value!r}; e.g. {flag}")


def _days(span: pd.Timedelta) -> float:
    """``span`` in days, rounded down to a value the windows fit in (0.1 days precision)."""
    return math.floor(span / pd.Timedelta(days=1) * 10) / 10


def causal_fill(y: np.ndarray) -> np.ndarray:
    """Forward-fill missing values (each from the newest value before it; leading gaps become 0)."""
    y = np.asarray(y, dtype=float)
    idx = np.where(np.isfinite(y), np.arange(len(y)), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, y[np.maximum(idx, 0)], 0.0)
    return out


def tune_knob(busy_by_knob: np.ndarray, target_busy: float) -> tuple[int, bool]:
    """Index of the first (cheapest) knob with busy <= target, and whether any met it (else the last)."""
    ok = np.flatnonzero(busy_by_knob <= target_busy + 1e-12)
    return (int(ok[0]), True) if ok.size else (len(busy_by_knob) - 1, False)


def _busy(demand: np.ndarray, nodes: np.ndarray, gpus_per_node: int) -> np.ndarray:
    seen = np.isfinite(demand)
    return np.mean(demand[seen] > nodes[..., seen] * gpus_per_node + 1e-9, axis=-1)


def score_window(
    demand: np.ndarray, nodes: np.ndarray, pool: PoolBounds, target_busy: float, step: pd.Timedelta,
) -> tuple[dict[str, float], bool]:
    """The scores of a plan's ``nodes`` on the scored window's ``demand`` (``pool``: anything with
    ``gpus_per_node`` and ``price_per_node_hour``), and whether it met ``target_busy``."""
    s = score_nodes(demand, nodes, gpus_per_node=pool.gpus_per_node, price_per_node_hour=pool.price_per_node_hour,
                    step=step)
    return s, bool(s["busy"] <= target_busy + 1e-12)
