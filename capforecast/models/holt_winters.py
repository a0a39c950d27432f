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
from capforecast.models import _features as feat
from capforecast.models._fallback import FallbackMixin
from capforecast.models.base import Forecaster

__all__ = ["HoltWinters"]

logger = logging.getLogger(__name__)


@functools.cache
def _rng_keyword() -> str:
    """``rng`` (statsmodels >= 0.15, where ``random_state`` is deprecated) or ``random_state`` (0.14)."""
    from statsmodels.tsa.holtwinters.results import HoltWintersResults

    return "rng" if "rng" in inspect.signature(HoltWintersResults.simulate).parameters else "random_state"


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
        m = self.season_length_ = int(self.season) if self.season else feat.season_length(self.step_)
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
