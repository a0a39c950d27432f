"""The documented fallback of the learned models: series they cannot learn are forecast by a baseline.

A model puts ``{unique_id: reason}`` into ``fallbacks_`` during ``_fit`` and calls :meth:`_fit_fallback`;
those series are then forecast by ``SeasonalNaive`` (daily season), or by ``Naive`` when they are shorter
than one season. A warning on the model's logger names every such series and why. A series with no observed
value at all cannot be forecast by anything: that is a :class:`~capforecast.errors.ModelError`.
"""

from __future__ import annotations

import logging
from typing import ClassVar

import numpy as np
import pandas as pd

from capforecast.errors import ModelError
from capforecast.evaluation.metrics import season_length
from capforecast.models.baselines import Naive, SeasonalNaive

__all__ = ["FallbackMixin"]

logger = logging.getLogger("capforecast.models")


class FallbackMixin:
    """Fit and apply baseline forecasts for the series listed in ``fallbacks_`` (see module docstring)."""

    fallbacks_: dict[str, str]
    ids_: list[str]
    step_: pd.Timedelta
    alias: ClassVar[str]

    def _fit_fallback(self, frame: pd.DataFrame) -> None:
        self.fallback_models_: list[tuple[list[str], object]] = []
        if not self.fallbacks_:
            return
        m = season_length(self.step_)
        sub = frame[frame["unique_id"].isin(list(self.fallbacks_))][["unique_id", "ds", "y"]]
        counts = sub.groupby("unique_id")["y"].agg(["size", "count"])
        empty = sorted(counts.index[counts["count"] == 0])
        if empty:
            raise ModelError(
                f"{self.alias}: series {empty[:5]} have no observed value at all; drop them from the frame or "
                "wait until they have data"
            )
        short = sorted(counts.index[counts["size"] < m])
        seasonal = sorted(set(counts.index) - set(short))
        if seasonal:
            part = sub[sub["unique_id"].isin(seasonal)].reset_index(drop=True)
            self.fallback_models_.append((seasonal, SeasonalNaive(season=m).fit(part)))
        if short:
            part = sub[sub["unique_id"].isin(short)].reset_index(drop=True)
            self.fallback_models_.append((short, Naive().fit(part)))
        for uid in short:
            self.fallbacks_[uid] += "; forecast by naive (shorter than one season)"
        for uid in seasonal:
            self.fallbacks_[uid] += "; forecast by seasonal_naive"
        logger.warning(
            "%s: %d series forecast by a baseline instead of the model: %s",
            self.alias, len(self.fallbacks_),
            "; ".join(f"{u}: {r}" for u, r in list(self.fallbacks_.items())[:5])
            + (f" (and {len(self.fallbacks_) - 5} more)" if len(self.fallbacks_) > 5 else ""),
        )

    def _update_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """Validate the newer history given to ``update`` against what the model was trained on."""
        from capforecast import frames

        self._check_fitted()  # type: ignore[attr-defined]
        frame = frames.regularize(df)  # validates it first
        have = set(frame["unique_id"])
        unknown, absent = sorted(have - set(self.ids_)), sorted(set(self.ids_) - have)
        if unknown:
            raise ModelError(
                f"{self.alias}: series {unknown[:5]} were not in the training data; retrain with them "
                "(fit, or capforecast train) or drop them from the frame"
            )
        if absent:
            raise ModelError(
                f"{self.alias}: the new frame lacks series {absent[:5]} that the model forecasts; give the recent "
                "history of every trained series, or retrain on the series you have"
            )
        exog = [c for c in frame.columns if c not in frames.SERIES_COLUMNS]
        step = frames.infer_step(frame)
        if step != self.step_ or exog != list(self.exog_cols_):  # type: ignore[attr-defined]
            raise ModelError(
                f"{self.alias}: the new frame has step {step} and exogenous columns {exog}, the model was "
                f"trained with {self.step_} and {self.exog_cols_}; give the same, or retrain"  # type: ignore[attr-defined]
            )
        self.last_ds_ = frame.groupby("unique_id", sort=True)["ds"].max()  # type: ignore[attr-defined]
        if self.fallbacks_:
            self.fallbacks_ = {u: r.split("; forecast by")[0] for u, r in self.fallbacks_.items()}
            self._fit_fallback(frame)
        return frame

    def _merge_fallback(
        self, yhat: np.ndarray, qv: dict[float, np.ndarray], horizon: int, quantiles: list[float]
    ) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        """Overwrite the rows of fallback series with their baseline forecasts."""
        pos = {uid: i for i, uid in enumerate(self.ids_)}
        for _ids, model in self.fallback_models_:
            b_yhat, b_q = model._predict(horizon, quantiles)  # type: ignore[attr-defined]
            rows = [pos[u] for u in model.ids_]  # type: ignore[attr-defined]
            yhat[rows] = b_yhat
            for q in quantiles:
                qv[q][rows] = np.sort(np.stack([b_q[p] for p in quantiles], axis=-1), axis=-1)[
                    ..., quantiles.index(q)
                ]
        return yhat, qv
