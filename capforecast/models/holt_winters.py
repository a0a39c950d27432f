"""Holt-Winters (additive seasonal exponential smoothing) per series, with simulated quantiles.

Built on ``statsmodels.tsa.holtwinters.ExponentialSmoothing``: a maintained, tested implementation that
estimates the smoothing parameters and initial states by maximum likelihood and can simulate future paths
from the fitted model, which gives honest quantiles (the error compounds with the horizon) without
hand-written optimisation code. Quantiles are empirical quantiles of ``n_paths`` simulated paths (seeded).

Each series is fitted on its last ``max_history`` steps. Before fitting, gaps and outages (see
:func:`capforecast.models._features.mask_outages`) are filled from a season back (counted in ``filled_``);
series with fewer than two seasons, constant series or series statsmodels cannot fit are forecast by the
baseline fallback and listed in ``fallbacks_``.

Examples
--------
>>> from capforecast.ingest.sample import make_sample
>>> frame = make_sample(days=21, pools=["a100-train"])
>>> fc = HoltWinters(n_paths=200).fit(frame).predict(24, quantiles=[0.5, 0.9])
>>> bool((fc["p90"] >= fc["p50"]).all())
True
"""

from __future__ import annotations

import functools
import inspect
import logging

import numpy as np
import pandas as pd

from capforecast.errors import ModelError
from capforecast.evaluation.metrics import season_length
from capforecast.models import _features as feat
from capforecast.models._fallback import FallbackMixin
from capforecast.models.base import Forecaster

__all__ = ["HoltWinters", "smoothed_states"]

logger = logging.getLogger(__name__)


@functools.cache
def _rng_keyword() -> str:
    """``rng`` (statsmodels >= 0.15, where ``random_state`` is deprecated) or ``random_state`` (0.14)."""
    from statsmodels.tsa.holtwinters.results import HoltWintersResults

    return "rng" if "rng" in inspect.signature(HoltWintersResults.simulate).parameters else "random_state"


def smoothed_states(
    y: np.ndarray, m: int, *, alpha: float, beta: float, gamma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Additive Holt-Winters with fixed smoothing, run once over ``y``: the state after every step.

    The same statsmodels recursion as :class:`HoltWinters` (``ExponentialSmoothing`` with known initial states
    and ``optimized=False``), with the seasonal update written on the new level,
    ``s_t = gamma (y_t - l_t) + (1 - gamma) s_{t-m}``, which is statsmodels' form with smoothing
    ``gamma (1 - alpha)`` exactly. The start is the first season: level its mean, trend 0, seasonal terms its
    deviations (zeros unless all ``m`` values are known). A missing step changes nothing but the level, which
    follows the trend. Causal by construction: entry ``i`` depends on ``y[: i + 1]`` only.

    Returns ``level`` and ``trend`` of shape ``(n,)`` and ``season`` of shape ``(n + m,)``: ``season[:m]`` are
    the initial terms of phases ``0 .. m-1`` and ``season[m + i]`` the term of step ``i``'s phase after step
    ``i``. The forecast from step ``i`` for step ``t > i`` is ``level[i] + (t - i) * trend[i] + season[m + j]``
    with ``j = i - (i - t) % m``.

    Examples
    --------
    >>> y = np.tile([1.0, 3.0], 4)
    >>> level, trend, season = smoothed_states(y, 2, alpha=0.5, beta=0.1, gamma=0.3)
    >>> round(float(level[-1] + trend[-1] + season[2 + 6]), 6)  # the step after the last is like step 6
    1.0
    """
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.asarray(y, dtype=float)
    n = len(y)
    first = y[: min(n, m)]
    known = np.isfinite(y)
    level0 = float(np.nanmean(first)) if np.isfinite(first).any() else 0.0
    level, trend = np.empty(n), np.empty(n)
    season = np.zeros(n + m)
    if np.isfinite(first).sum() == m:
        season[:m] = first - level0  # positions 0..m-1 are their own phases
    lv, tr, i = level0, 0.0, 0
    while i < n:
        j = i
        if not known[i]:  # a gap: the level follows the trend, the seasonal terms stay
            while j < n and not known[j]:
                j += 1
            level[i:j] = lv + tr * np.arange(1, j - i + 1)
            trend[i:j] = tr
            season[m + i: m + j] = season[i:j]
        else:
            while j < n and known[j]:
                j += 1
            seg = y[i:j] if j - i > 1 else np.repeat(y[i], 2)  # statsmodels needs two values; keep the first
            with np.errstate(divide="ignore", invalid="ignore"):  # its AIC of an exact fit (log 0); unused here
                res = ExponentialSmoothing(
                    seg, trend="add", seasonal="add", seasonal_periods=m, initialization_method="known",
                    initial_level=lv, initial_trend=tr, initial_seasonal=season[i: i + m],
                ).fit(smoothing_level=alpha, smoothing_trend=beta, smoothing_seasonal=gamma * (1.0 - alpha),
                      optimized=False)
            k = j - i
            level[i:j] = np.asarray(res.level)[:k]
            trend[i:j] = np.asarray(res.trend)[:k]
            season[m + i: m + j] = np.asarray(res.season)[:k]
        lv, tr, i = float(level[j - 1]), float(trend[j - 1]), j
    return level, trend, season


class HoltWinters(FallbackMixin, Forecaster):
    """Additive Holt-Winters per series (statsmodels), quantiles from simulated paths.

    Parameters
    ----------
    season : season length in steps; ``None`` means one day (24 for hourly data).
    trend : ``None`` (level + season) or ``'add'`` (additive trend, damped when ``damped_trend``).
    damped_trend : damp the additive trend.
    max_history : fit on at most this many last steps of each series (speed; old data matters little).
    n_paths : simulated paths per series for the quantiles.
    seed : random seed of the simulation.

    Examples
    --------
    >>> HoltWinters(trend="add", damped_trend=True).trend
    'add'
    """

    alias = "holt_winters"
    per_series = True

    def __init__(
        self,
        *,
        season: int | None = None,
        trend: str | None = None,
        damped_trend: bool = False,
        max_history: int = 1344,
        n_paths: int = 1000,
        seed: int = 0,
    ) -> None:
        self.season = season
        self.trend = trend
        self.damped_trend = damped_trend
        self.max_history = max_history
        self.n_paths = n_paths
        self.seed = seed

    def _check_params(self) -> None:
        if self.trend not in (None, "add"):
            raise ModelError(f"holt_winters: trend must be None or 'add', got {self.trend!r}")
        self._check_counts("max_history", "n_paths")
        season = self.season
        if season is not None and (isinstance(season, bool) or not isinstance(season, (int, np.integer))
                                   or season < 2):
            raise ModelError(f"holt_winters: season must be a whole number of steps >= 2, got {season!r}")
        self._check_seed()

    def _fit(self, frame: pd.DataFrame) -> None:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        self._check_params()
        m = self.season_length_ = int(self.season) if self.season else season_length(self.step_)
        if m < 2:
            raise ModelError(
                f"holt_winters: the step {self.step_} has no daily season; pass season=<steps per season>"
            )
        self.results_, self.filled_ = {}, {}
        for uid, a in feat.series_arrays(frame, self.ids_, ["y"]).items():
            y = a["y"][-int(self.max_history):]
            problem = feat.history_problem(y, m)
            if problem:
                self.fallbacks_[uid] = problem
                continue
            masked, _ = feat.mask_outages(y, m)
            if np.isnan(masked).any():
                self.filled_[uid] = int(np.isnan(masked).sum())
            filled = feat.fill_for_input(masked, m)
            try:  # statsmodels may warn (ConvergenceWarning); the result is judged by its forecast instead
                res = ExponentialSmoothing(
                    filled, trend=self.trend, damped_trend=bool(self.damped_trend and self.trend),
                    seasonal="add", seasonal_periods=m, initialization_method="estimated",
                ).fit()
                ok = np.isfinite(res.forecast(2 * m)).all()
            except (ValueError, np.linalg.LinAlgError) as exc:
                ok, problem = False, str(exc)
            if not ok:
                self.fallbacks_[uid] = f"statsmodels could not fit it ({problem or 'non-finite forecast'})"
                continue
            self.results_[uid] = res
        self._fit_fallback(frame)

    def _predict(self, horizon: int, quantiles: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        n = len(self.ids_)
        yhat = np.zeros((n, horizon))
        qv = {q: np.zeros((n, horizon)) for q in quantiles}
        for i, uid in enumerate(self.ids_):
            res = self.results_.get(uid)
            if res is None:
                continue
            yhat[i] = np.asarray(res.forecast(horizon))
            # a RandomState of its own (not the global one): the same paths as random_state=<int> gave
            rng = {_rng_keyword(): np.random.RandomState(int(self.seed) + i)}
            paths = np.asarray(res.simulate(horizon, repetitions=int(self.n_paths), error="add", anchor="end",
                                            **rng))
            paths = paths.reshape(horizon, -1)
            for q in quantiles:
                qv[q][i] = np.quantile(paths, q, axis=1)
        return self._merge_fallback(yhat, qv, horizon, quantiles)
