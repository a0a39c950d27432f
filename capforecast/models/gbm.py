"""Gradient-boosted quantile forecaster (scikit-learn ``HistGradientBoostingRegressor``, quantile loss).

A direct global model: one regressor per quantile level, trained on rows ``(series, origin, steps ahead)``
with lag, rolling and calendar features of the series divided by its own scale (see
:func:`capforecast.models._features.direct_features`). The number of steps ahead is a feature, so one model
covers the whole horizon without feeding forecasts back. Gaps, outages and short or constant series are
treated as in the LSTM (see :mod:`capforecast.models.lstm`): masked from the targets, filled in the inputs,
or forecast by a reported baseline fallback.

Examples
--------
>>> from capforecast.ingest.sample import make_sample
>>> frame = make_sample(days=21, pools=["a100-train"])
>>> fc = GBMForecaster(horizon=24, max_iter=20).fit(frame).predict(24, quantiles=[0.5, 0.9])
>>> bool((fc["p90"] >= fc["p50"]).all())
True
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from capforecast.errors import ModelError
from capforecast.evaluation.metrics import season_length
from capforecast.models import _features as feat
from capforecast.models._fallback import FallbackMixin
from capforecast.models._quantiles import select_levels, training_levels
from capforecast.models.base import Forecaster

__all__ = ["GBMForecaster"]

logger = logging.getLogger(__name__)

DEFAULT_QUANTILES = (0.1, 0.5, 0.9, 0.95, 0.99)


class GBMForecaster(FallbackMixin, feat.ScaledInputs, Forecaster):
    """One ``HistGradientBoostingRegressor(loss='quantile')`` per level on direct lag/calendar features.

    Parameters
    ----------
    horizon : most steps ahead the model learns (``predict`` may ask for fewer, not more).
    quantiles : levels learned (0.5 is always added); levels in between are interpolated at predict time.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf : passed to the regressors.
    max_rows : cap on training rows (randomly chosen, seeded) to bound time and memory.
    n_bags : train this many regressor sets, each on its own random draw of rows (seeds ``seed``,
        ``seed + 1``, ...), and average their predictions: less variance from the row sample, ``n_bags``
        times the cost.
    normalize : ``'series'`` (default): values divided by each series' scale. ``'window'``: each row's values
        and target also divided by the level at its origin (the mean of the last season), so the model
        learns shapes shared across levels and trends (see :func:`~capforecast.models._features.window_normalize`);
        better on many series with trends, e.g. M4 hourly (docs/evaluation.md).
    n_threads : OpenMP threads for training and prediction (1 by default: on a shared, busy machine extra
        threads mostly spin; measured 15x faster than 2 threads under load on the 2-core CI box).
    seed : random seed; same data and seed give the same forecast.

    Examples
    --------
    >>> GBMForecaster(horizon=24).horizon
    24
    """

    alias = "gbm"

    def __init__(
        self,
        *,
        horizon: int = 48,
        quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 50,
        max_rows: int = 50_000,
        normalize: str = "series",
        n_bags: int = 1,
        n_threads: int = 1,
        seed: int = 0,
    ) -> None:
        self.horizon = horizon
        self.quantiles = quantiles
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.max_rows = max_rows
        self.normalize = normalize
        self.n_bags = n_bags
        self.n_threads = n_threads
        self.seed = seed

    def _check_params(self) -> None:
        self._check_counts("horizon", "max_iter", "max_leaf_nodes", "min_samples_leaf", "max_rows", "n_bags",
                           "n_threads")
        rate = self.learning_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)) or not rate > 0:
            raise ModelError(f"gbm: learning_rate must be a number > 0, got {rate!r}; e.g. 0.1")
        self._check_seed()
        if self.normalize not in ("series", "window"):
            raise ModelError(f"gbm: normalize must be 'series' or 'window', got {self.normalize!r}")

    def _rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows as the regressors see them, and the factor their targets are divided by."""
        if self.normalize == "window":
            return feat.window_normalize(rows)
        return rows, np.ones(len(rows))

    def _prepare(self, a: dict[str, np.ndarray], uid: str, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y, scale, exog = self._scaled_inputs(a, uid, m)
        return feat.fill_for_input(y, m) / scale, y / scale, exog

    def _fit(self, frame: pd.DataFrame) -> None:
        from threadpoolctl import threadpool_limits

        self._check_params()
        with threadpool_limits(limits=int(self.n_threads), user_api="openmp"):
            self._fit_rows(frame)

    def _fit_rows(self, frame: pd.DataFrame) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor

        m = self.season_length_ = season_length(self.step_)
        self.levels_ = training_levels(self.quantiles)
        H = int(self.horizon)
        self.scales_: dict[str, float] = {}
        self.exog_scales_: dict[str, dict[str, float]] = {}
        self.outages_: dict[str, int] = {}
        self.context_ = {}
        arrays = feat.series_arrays(frame, self.ids_, ["y", *self.exog_cols_])
        keep = self._context_length()
        prepared = {}
        for uid, a in arrays.items():
            problem = feat.history_problem(a["y"], m)
            if problem:
                self.fallbacks_[uid] = problem
                continue
            yin, target, exog = self._prepare(a, uid, m)
            prepared[uid] = (yin, target, exog, pd.DatetimeIndex(a["ds"]))
            self.context_[uid] = (yin[-keep:].copy(), exog[-keep:].copy())
        self.net_ids_ = list(prepared)
        if not prepared:
            raise ModelError(
                "gbm: no series has two seasons of varying history to learn from; collect more history or use "
                "model 'seasonal_naive'"
            )
        bags = [self._training_rows(prepared, np.random.default_rng(self.seed + k), H, m)
                for k in range(int(self.n_bags))]
        # A feature never observed in this history (e.g. the weekly lag with under a week of data) is all NaN,
        # which scikit-learn's binning cannot take; hold it constant so it is simply never split on.
        self.empty_features_ = np.logical_or.reduce([np.isnan(X).all(axis=0) for X, _ in bags])
        self.models_: dict[float, list[Any]] = {q: [] for q in self.levels_}
        for k, (X, Y) in enumerate(bags):
            X[:, self.empty_features_] = 0.0
            for q in self.levels_:
                reg = HistGradientBoostingRegressor(
                    loss="quantile", quantile=q, max_iter=int(self.max_iter),
                    learning_rate=float(self.learning_rate), max_leaf_nodes=int(self.max_leaf_nodes),
                    min_samples_leaf=int(self.min_samples_leaf), early_stopping=False,
                    random_state=int(self.seed) + k,
                )
                self.models_[q].append(reg.fit(X, Y))
        self.n_rows_ = sum(len(Y) for _, Y in bags)
        self._fit_fallback(frame)

    def _training_rows(self, prepared: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, pd.DatetimeIndex]],
                       rng: np.random.Generator, H: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``(origin, steps ahead)`` of every series, at most ``max_rows`` of them, chosen with ``rng``.

        With several bags, each bag draws its own rows (at most 80 % of all, so that bags differ).
        """
        total = sum(len(p[0]) - m for p in prepared.values())
        cap = min(int(self.max_rows), int(0.8 * total * H)) if int(self.n_bags) > 1 else int(self.max_rows)
        rows_x, rows_y = [], []
        for yin, target, exog, ds in prepared.values():
            T = len(yin)
            origins = np.arange(m - 1, T - 1)
            if total * H > cap:
                n = max(1, int(round(cap * len(origins) / max(total, 1))))
                o = rng.choice(origins, size=n)
                h = np.minimum(rng.integers(1, H + 1, size=n), T - 1 - o)
            else:
                o = np.repeat(origins, H)
                h = np.tile(np.arange(1, H + 1), len(origins))
                ok = o + h <= T - 1
                o, h = o[ok], h[ok]
            t = o + h
            fine = np.isfinite(target[t])
            o, h, t = o[fine], h[fine], t[fine]
            x, level = self._rows(feat.direct_features(yin, exog, o, h, ds[t], m))
            rows_x.append(x)
            rows_y.append(target[t] / level)
        return np.vstack(rows_x), np.concatenate(rows_y)

    def update(self, df: pd.DataFrame) -> GBMForecaster:
        """Forecast from newer history without retraining; return ``self``.

        ``df`` must hold every trained series (same step and exogenous columns); the regressors and the
        per-series scales stay as trained, fallback baselines are refitted.
        """
        frame = self._update_frame(df)
        m, keep = self.season_length_, self._context_length()
        for uid, a in feat.series_arrays(frame, self.ids_, ["y", *self.exog_cols_]).items():
            if uid in self.context_:
                yin, _, exog = self._prepare(a, uid, m)
                self.context_[uid] = (yin[-keep:].copy(), exog[-keep:].copy())
        return self

    def _context_length(self) -> int:
        m = season_length(self.step_)
        w = feat.weekly_lag(m)
        return 2 * w + int(self.horizon) + m

    def _predict(self, horizon: int, quantiles: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        if horizon > self.horizon:
            raise ModelError(
                f"gbm: this model learned at most {self.horizon} steps ahead; refit with "
                f"GBMForecaster(horizon={horizon}) or ask for fewer steps"
            )
        m = self.season_length_
        n = len(self.ids_)
        values = np.zeros((n, horizon, len(self.levels_)))
        pos = {uid: i for i, uid in enumerate(self.ids_)}
        if self.net_ids_:
            rows, levels = [], []
            h = np.arange(1, horizon + 1)
            for uid in self.net_ids_:
                yin, exog = self.context_[uid]
                o = np.full(horizon, len(yin) - 1)
                ds = pd.date_range(self.last_ds_[uid] + self.step_, periods=horizon, freq=self.step_)
                x, level = self._rows(feat.direct_features(yin, exog, o, h, ds, m))
                rows.append(x)
                levels.append(level)
            X = np.vstack(rows)
            empty = getattr(self, "empty_features_", None)
            if empty is not None:
                X[:, empty] = 0.0
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=int(self.n_threads), user_api="openmp"):
                pred = np.stack([np.mean([r.predict(X) for r in _bag(self.models_[q])], axis=0)
                                 for q in self.levels_], axis=-1)
            pred = pred * np.concatenate(levels)[:, None]
            pred = np.sort(pred.reshape(len(self.net_ids_), horizon, -1), axis=-1)
            for k, uid in enumerate(self.net_ids_):
                values[pos[uid]] = pred[k] * self.scales_[uid]
        qv = select_levels(self.levels_, values, quantiles, model="gbm")
        yhat = values[..., self.levels_.index(0.5)]
        return self._merge_fallback(yhat, qv, horizon, quantiles)


def _bag(models: Any) -> list[Any]:
    """The regressors of one quantile level (a single one in models saved before bagging)."""
    return list(models) if isinstance(models, list) else [models]
