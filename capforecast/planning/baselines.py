"""Reference capacity planners to beat (BENCHMARKS.md section 2), each with one knob.

Every planner turns the demand observed before a decision into an estimate of the demand of each step it
commits, for a whole grid of knob values at once, ``(n_knobs, n_steps)``; nodes are then
``ceil(estimate / gpus_per_node)`` within the pool bounds. The grid is ordered from the cheapest knob to the
most generous, so the simulator picks the first knob that meets a busy target on the validation week.

- ``static``: one quantile of the history before the window, held for the whole window (knob: the quantile);
- ``reactive``: last observed demand x (1 + k), HPA-like, lagged by the lead time (knob: headroom k);
- ``seasonal_naive_max``: max of the same step a day and a week earlier x (1 + k);
- ``holt_winters``: additive Holt-Winters with a daily season and fixed smoothing x (1 + k);
- ``predict_linear``: a least-squares line over the last 6 h, extrapolated like Prometheus's
  ``predict_linear``, x (1 + k);
- ``oracle``: exactly ``ceil(d / gpus_per_node)`` nodes (sees the future; the cost yardstick).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from capforecast.errors import PlanningError

__all__ = [
    "BASELINES",
    "HEADROOM_GRID",
    "BaselinePlanner",
    "Decision",
    "HoltWinters",
    "PredictLinear",
    "Reactive",
    "SeasonalNaiveMax",
    "Static",
    "get_baseline",
]

HEADROOM_GRID: tuple[float, ...] = tuple(np.round(np.arange(0.0, 3.0001, 0.01), 2))
QUANTILE_GRID: tuple[float, ...] = tuple(np.round(np.arange(0.5, 1.00001, 0.005), 3))


@dataclass(frozen=True)
class Decision:
    """One planning decision: at ``time``, with the first ``observed`` steps known, commit ``targets``.

    ``targets`` holds positions (into the series) of the steps whose nodes are fixed by this decision.
    """

    time: pd.Timestamp
    observed: int
    targets: np.ndarray


class BaselinePlanner:
    """A one-knob reference planner; subclasses implement :meth:`_base` (or override :meth:`estimates`).

    Examples
    --------
    >>> ds = pd.date_range("2020-05-01", periods=48, freq="h", tz="UTC")
    >>> y = np.arange(48, dtype=float)
    >>> d = Decision(ds[40] - pd.Timedelta("1h"), 39, np.array([40]))
    >>> Reactive().estimates(y, ds, [d])[0].tolist()   # knob 0: the last observed value
    [38.0]
    """

    name: ClassVar[str] = ""
    knob_name: ClassVar[str] = "headroom"
    knobs: tuple[float, ...] = HEADROOM_GRID

    def estimates(self, y: np.ndarray, ds: pd.DatetimeIndex, decisions: Sequence[Decision]) -> np.ndarray:
        """Return the demand estimate of every target step for every knob, shape ``(n_knobs, n_targets)``."""
        base = np.concatenate([self._base(y, ds, d) for d in decisions]) if decisions else np.zeros(0)
        return np.maximum(base, 0.0)[None, :] * (1.0 + np.asarray(self.knobs))[:, None]

    def _base(self, y: np.ndarray, ds: pd.DatetimeIndex, decision: Decision) -> np.ndarray:
        raise NotImplementedError


def _observed(y: np.ndarray, decision: Decision) -> np.ndarray:
    if decision.observed < 1:
        raise PlanningError(
            f"no demand observed before {decision.time}; give the simulator more history than the test window"
        )
    return y[: decision.observed]


class Static(BaselinePlanner):
    """A quantile of all history before the window's first decision, held for the whole window."""

    name = "static"
    knob_name = "quantile"
    knobs = QUANTILE_GRID

    def estimates(self, y: np.ndarray, ds: pd.DatetimeIndex, decisions: Sequence[Decision]) -> np.ndarray:
        n = sum(len(d.targets) for d in decisions)
        if not decisions:
            return np.zeros((len(self.knobs), 0))
        first = min(int(d.targets.min()) for d in decisions)
        hist = y[:first]
        hist = hist[~np.isnan(hist)]
        if hist.size == 0:
            raise PlanningError("static planner: no history before the window; give the simulator more history")
        levels = np.quantile(hist, np.asarray(self.knobs))
        return np.repeat(levels[:, None], n, axis=1)


class Reactive(BaselinePlanner):
    """Last observed demand x (1 + k), like an HPA that reacts one lead time late."""

    name = "reactive"

    def _base(self, y: np.ndarray, ds: pd.DatetimeIndex, decision: Decision) -> np.ndarray:
        return np.full(len(decision.targets), _observed(y, decision)[-1])


class SeasonalNaiveMax(BaselinePlanner):
    """Max of the same step one day and one week earlier (the newest observed copies) x (1 + k)."""

    name = "seasonal_naive_max"

    def _base(self, y: np.ndarray, ds: pd.DatetimeIndex, decision: Decision) -> np.ndarray:
        hist = _observed(y, decision)
        step = ds[1] - ds[0]
        day = int(pd.Timedelta("1D") / step)
        out = []
        for t in decision.targets:
            lags = []
            for period in (day, 7 * day):
                lag = period
                while t - lag >= len(hist):  # not observed yet: go one more period back
                    lag += period
                if t - lag >= 0:
                    lags.append(hist[t - lag])
            out.append(max(lags) if lags else hist[-1])
        return np.asarray(out, dtype=float)


@dataclass
class HoltWinters(BaselinePlanner):
    """Additive Holt-Winters with a daily season and fixed smoothing (alpha, beta, gamma) x (1 + k).

    The recursion is :func:`capforecast.models.holt_winters.smoothed_states` (the model's statsmodels one), run
    once over the series; each decision reads the state after its last observed step.
    """

    alpha: float = 0.5
    beta: float = 0.1
    gamma: float = 0.3
    name: ClassVar[str] = "holt_winters"

    def estimates(self, y: np.ndarray, ds: pd.DatetimeIndex, decisions: Sequence[Decision]) -> np.ndarray:
        from capforecast.models.holt_winters import smoothed_states

        if not decisions:
            return np.zeros((len(self.knobs), 0))
        m = int(pd.Timedelta("1D") / (ds[1] - ds[0]))
        level, trend, season = smoothed_states(y, m, alpha=self.alpha, beta=self.beta, gamma=self.gamma)
        targets = np.concatenate([d.targets for d in decisions]).astype(int)
        # the state after each decision's last observed step, one entry per target
        last = np.concatenate([np.full(len(d.targets), len(_observed(y, d)) - 1) for d in decisions])
        phase_step = last - (last - targets) % m  # the newest observed step of each target's phase
        flat = level[last] + (targets - last) * trend[last] + season[m + phase_step]
        return np.maximum(flat, 0.0)[None, :] * (1.0 + np.asarray(self.knobs))[:, None]


class PredictLinear(BaselinePlanner):
    """A least-squares line over the last 6 h observed, extrapolated to each target step, x (1 + k)."""

    name = "predict_linear"
    window = pd.Timedelta("6h")

    def _base(self, y: np.ndarray, ds: pd.DatetimeIndex, decision: Decision) -> np.ndarray:
        hist = _observed(y, decision)
        n = max(2, int(self.window / (ds[1] - ds[0])))
        x = np.arange(len(hist) - n, len(hist), dtype=float)
        tail = hist[-n:]
        ok = np.isfinite(tail)
        if ok.sum() < 2:
            return np.full(len(decision.targets), np.nanmax(hist) if np.isfinite(hist).any() else 0.0)
        slope, intercept = np.polyfit(x[ok], tail[ok], 1)
        return intercept + slope * decision.targets.astype(float)


BASELINES: dict[str, type[BaselinePlanner]] = {
    cls.name: cls for cls in (Static, Reactive, SeasonalNaiveMax, HoltWinters, PredictLinear)
}


def get_baseline(name: str) -> BaselinePlanner:
    """Return a reference planner by name (one of :data:`BASELINES`)."""
    try:
        return BASELINES[name]()
    except (KeyError, TypeError):  # TypeError: not a name at all (a list, a dict)
        raise PlanningError(
            f"unknown baseline planner {name!r}; choose one of {', '.join(sorted(BASELINES))}"
        ) from None
