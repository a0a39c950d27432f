"""``auto``: choose a model per series by a rolling-origin backtest, switching only on consistent evidence.

At ``fit``, every candidate model (and the median of them all) is backtested on the last ``n_windows``
windows of ``horizon`` steps of each series. Every series starts from a robust *default*, ``median3``: the
median of seasonal naive, naive and the 7-day same-hour median, which is never far from the best of the
three. A candidate replaces the default only on consistent evidence: a lower mean backtest MASE, a worse
MASE in at most ``max_losses`` of the windows, and a mean MASE no worse than ``seasonal_naive``'s (the
floor). Seasonal naive itself replaces the default by the same rule. A backtest of a few windows of bursty
demand picks winners partly by luck; requiring a win in (nearly) every window, and blending a chosen
challenger with the better of the default and seasonal naive (``shrink``), keeps the gains that persist and
limits the losses from luck.
The chosen models are then refit on all the history. Quantiles are calibrated by split conformal
prediction on the backtest residuals of the chosen forecast (see :mod:`capforecast.evaluation.conformal`),
so a P90 covers about 90 % out of sample.

The choice, every candidate's scores and the reason are kept in ``choice_``, ``scores_`` and
``reasons_``, printed by :meth:`AutoForecaster.report`, and written into ``metadata.json`` on ``save``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
import pandas as pd

from capforecast import frames
from capforecast.errors import CapforecastError, ConfigError, ModelError
from capforecast.models._auto_select import CANDIDATES, DEFAULT_CANDIDATES, FLOOR, MEDIAN3, _Selection
from capforecast.models._auto_select import MEDIAN3_MEMBERS as MEDIAN3_MEMBERS  # re-exported
from capforecast.models.base import Forecaster

__all__ = ["CANDIDATES", "DEFAULT_CANDIDATES", "AutoForecaster"]

_STATE = "auto_state.joblib"
_MIN_RESIDUALS = 10


class AutoForecaster(_Selection, Forecaster):
    """Per-series model selection by backtest: a robust default, consistent evidence to switch, a floor.

    Parameters
    ----------
    candidates : names from :data:`CANDIDATES` or registry aliases (default :data:`DEFAULT_CANDIDATES`);
        ``seasonal_naive`` is always added. Candidates whose module is not installed are skipped.
    horizon : backtest horizon in steps (default: one day of steps); use the horizon you will forecast.
    n_windows : backtest windows (fewer are used automatically when the history is short).
    metric : ``'mase'`` (default), ``'smape'`` or ``'owa'`` (mean of MASE and sMAPE relative to seasonal
        naive, as M4's OWA): what "best" means among the candidates that may replace the default.
    ensemble : also consider the median of all candidates (``ensemble_median``).
    calibrate : conformal quantiles from backtest residuals (else the chosen model's own quantiles).
    default : what a series keeps unless a candidate beats it consistently: ``'median3'`` (the median of
        seasonal naive, naive and seasonal_median_daily; seasonal naive when one of them is not a
        candidate) or the name of a candidate, e.g. ``'seasonal_naive'``.
    max_losses : a candidate replaces the default only if it is worse than the default in at most this many
        backtest windows, and in fewer than half of them (and better on the mean); ``None`` compares the
        means only.
    shrink : for a series whose choice is a challenger (not the default, not seasonal naive), the weight of
        the *anchor*, the more accurate on the backtest of the default and seasonal naive: the forecast is
        ``(1 - shrink) * chosen + shrink * anchor``. A backtest win over a few windows is partly luck; the
        blend keeps most of the gain and limits the loss when the luck runs out (0 = the chosen model alone).
    n_jobs, progress : passed to the backtest.

    Examples
    --------
    >>> from capforecast.ingest.sample import make_sample
    >>> frame = make_sample(days=21, pools=["a100-train"])
    >>> auto = AutoForecaster(candidates=("seasonal_naive", "seasonal_median_daily"), n_windows=2)
    >>> fc = auto.fit(frame).predict(24, quantiles=[0.5, 0.9])
    >>> auto.choice_["a100-train"] in auto.scores_["candidate"].unique()
    True
    """

    alias: ClassVar[str] = "auto"

    def __init__(
        self,
        candidates: tuple[str, ...] | list[str] | None = None,
        horizon: int | None = None,
        n_windows: int = 5,
        metric: str = "mase",
        ensemble: bool = True,
        calibrate: bool = True,
        default: str = MEDIAN3,
        max_losses: int | None = 1,
        shrink: float = 0.5,
        n_jobs: int = 1,
        progress: bool = False,
    ) -> None:
        self.candidates = candidates
        self.horizon = horizon
        self.n_windows = n_windows
        self.metric = metric
        self.ensemble = ensemble
        self.calibrate = calibrate
        self.default = default
        self.max_losses = max_losses
        self.shrink = shrink
        self.n_jobs = n_jobs
        self.progress = progress

    # ------------------------------------------------------------------ fit
    def _models(self, h: int) -> dict[str, Forecaster]:
        from capforecast.models import get_model

        names = list(dict.fromkeys([FLOOR, *(self.candidates or DEFAULT_CANDIDATES)]))
        models: dict[str, Forecaster] = {}
        self.skipped_: dict[str, str] = {}
        for name in names:
            alias, params = CANDIDATES.get(name, (name, {}))
            if alias == "auto":
                raise ConfigError("auto cannot be its own candidate; list other models, e.g. ('gbm', 'seasonal_naive')")
            try:
                model = get_model(alias, **params)
                names_ = model.get_params()
                if "horizon" in names_ and not params.get("horizon"):
                    model.set_params(horizon=max(h, int(names_["horizon"] or 0)))
                if self.calibrate and "quantiles" in names_ and "quantiles" not in params:
                    model.set_params(quantiles=(0.5,))  # conformal quantiles: only the median is needed
                models[name] = model
            except ModelError as exc:
                if name == FLOOR:
                    raise
                self.skipped_[name] = str(exc).split("\n")[0]
        return models

    def _check_settings(self) -> None:
        """ConfigError for a setting of the wrong type or range (from the CLI, ``--param n_windows=abc``); unknown
        candidate names are skipped and named in ``skipped_``, like those whose dependency is missing."""
        self._check_counts("n_windows")
        if self.horizon is not None:
            self._check_counts("horizon")
        shrink = self.shrink
        if isinstance(shrink, bool) or not isinstance(shrink, (int, float, np.number)) or not 0.0 <= shrink <= 1.0:
            raise ConfigError(f"auto: shrink must be a number between 0 and 1, got {shrink!r}; e.g. 0.5 or 0 (off)")
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, (int, np.integer)) or self.n_jobs == 0:
            raise ConfigError(f"auto: n_jobs must be a non-zero whole number (-1: every core), got {self.n_jobs!r}")
        for name in ("ensemble", "calibrate", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"auto: {name} must be true or false, got {getattr(self, name)!r}")
        names = self.candidates if self.candidates is not None else DEFAULT_CANDIDATES
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"auto: candidates must be a list of names, got {names!r}; e.g. "
                              "[seasonal_naive, gbm_fast]")

    def _fit(self, frame: pd.DataFrame) -> None:
        from capforecast.evaluation.backtest import cross_validation
        from capforecast.evaluation.metrics import season_length

        self._check_settings()
        if self.metric not in ("owa", "mase", "smape"):
            raise ConfigError(f"auto: metric must be 'owa', 'mase' or 'smape', got {self.metric!r}")
        losses = self.max_losses
        if losses is not None and (isinstance(losses, bool) or not isinstance(losses, (int, np.integer)) or losses < 0):
            raise ConfigError(f"auto: max_losses must be a whole number >= 0 or None, got {losses!r}; e.g. 1")
        m = season_length(self.step_)
        h = int(self.horizon) if self.horizon else m
        models = self._models(h)
        if self.default != MEDIAN3 and self.default not in models and self.default not in self.skipped_:
            raise ConfigError(f"auto: default {self.default!r} is not among the candidates {sorted(models)}; "
                              f"use '{MEDIAN3}' or one of the candidates")
        min_len = int(frame.groupby("unique_id")["y"].size().min())
        windows = max(1, min(int(self.n_windows), (min_len - 2 * m) // h))
        if min_len - h < m + 1:
            raise ModelError(
                f"auto: the shortest series has {min_len} steps, too few to backtest a {h}-step horizon after "
                f"one season ({m} steps); provide more history or use model 'seasonal_naive'"
            )
        bt = cross_validation(frame, models, h=h, n_windows=windows, quantiles=[0.5],
                              season=m, n_jobs=self.n_jobs, progress=self.progress)
        self.skipped_.update(bt.failures)
        if FLOOR in bt.failures:
            raise ModelError(f"auto: the floor model seasonal_naive failed: {bt.failures[FLOOR]}")
        self.backtest_windows_, self.backtest_horizon_ = windows, h
        wide = self._candidate_table(bt.forecasts)
        self._select(wide, frame, m)
        self._fit_members(frame, models)

    def _members_of(self, name: str) -> list[str]:
        return list(self.combined_.get(name, [name]))

    def _fit_members(self, frame: pd.DataFrame, models: dict[str, Forecaster]) -> None:
        needed = {FLOOR, *self._members_of(self.default_)}
        for name in set(self.choice_.values()):
            needed |= set(self._members_of(name))
        self.members_: dict[str, Forecaster] = {}
        for name in sorted(needed):
            try:
                self.members_[name] = type(models[name])(**models[name].get_params()).fit(frame)
            except CapforecastError as exc:
                if name == FLOOR:
                    raise
                self.skipped_[name] = f"final fit failed: {str(exc).splitlines()[0]}"
        if any(p not in self.members_ for p in self._members_of(self.default_)):
            failed = self.default_
            self.default_, self.default_residuals_ = FLOOR, dict(self.floor_residuals_)
            self.anchor_ = dict.fromkeys(self.anchor_, FLOOR)
            for uid, name in self.choice_.items():
                if name == failed:
                    self.choice_[uid] = FLOOR
                    self.reasons_[uid] = f"seasonal_naive: the default {failed} failed on the full history"
                    self.residuals_[uid] = self.floor_residuals_[uid]
        for uid, name in list(self.choice_.items()):
            lost = [p for p in self._members_of(name) if p not in self.members_]
            if lost:
                self.choice_[uid] = self.default_
                self.reasons_[uid] = f"{self.default_}: {name} was chosen but {lost} failed on the full history"
                self.residuals_[uid] = self.default_residuals_[uid]

    # ------------------------------------------------------------------ predict
    def _predict(self, horizon: int, quantiles: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        from capforecast.evaluation.conformal import conformal_offsets

        native = not self.calibrate or any(
            np.isfinite(self.residuals_.get(u, np.array([]))).sum() < _MIN_RESIDUALS for u in self.ids_)
        levels = sorted(set(quantiles) | {0.5}) if native else [0.5]
        cols = ["yhat", *[frames.quantile_column(q) for q in levels]]
        member_fc = {}
        for name, model in self.members_.items():
            fc = model.predict(horizon, quantiles=levels)
            fc["step"] = fc.groupby("unique_id", sort=False).cumcount()
            member_fc[name] = {
                col: fc.pivot(index="unique_id", columns="step", values=col).reindex(self.ids_).to_numpy()
                for col in cols
            }

        def combined(name: str, col: str, i: int) -> np.ndarray:
            parts = np.stack([member_fc[p][col][i] for p in self._members_of(name)])
            return np.median(parts, axis=0)

        default = self.default_
        n = len(self.ids_)
        yhat = np.empty((n, horizon))
        qv = {q: np.empty((n, horizon)) for q in quantiles}
        for i, uid in enumerate(self.ids_):
            choice = self.choice_[uid]
            anchor = self.anchor_[uid]
            w = 0.0 if choice in (default, FLOOR) else float(self.shrink)
            out = {col: (1.0 - w) * combined(choice, col, i) + (w * combined(anchor, col, i) if w else 0.0)
                   for col in (cols if native else ["yhat"])}
            yhat[i] = out["yhat"]
            res = self.residuals_.get(uid)
            if res is not None and w:
                anchor_res = self.floor_residuals_ if anchor == FLOOR else self.default_residuals_
                res = (1.0 - w) * res + w * anchor_res[uid]
            if self.calibrate and res is not None and np.isfinite(res).sum() >= _MIN_RESIDUALS:
                offsets = conformal_offsets(res, quantiles)
                for q in quantiles:
                    qv[q][i] = yhat[i] + float(offsets[q])
            else:
                for q in quantiles:
                    qv[q][i] = out[frames.quantile_column(q)]
        return yhat, qv

    # ------------------------------------------------------------------ reporting and persistence
    def report(self) -> pd.DataFrame:
        """One row per series: the chosen model, its backtest MASE/sMAPE, seasonal naive's, and the reason."""
        self._check_fitted()
        s = self.scores_.set_index(["unique_id", "candidate"])
        rows = []
        for uid in self.ids_:
            choice = self.choice_[uid]
            rows.append({
                "unique_id": uid, "choice": choice,
                "mase": s.loc[(uid, choice), "mase"], "smape": s.loc[(uid, choice), "smape"],
                "mase_seasonal_naive": s.loc[(uid, FLOOR), "mase"], "reason": self.reasons_[uid],
            })
        return pd.DataFrame(rows)

    def selection(self) -> dict[str, Any]:
        """The choice, candidates' scores and reason per series, as plain JSON-able data."""
        self._check_fitted()
        out: dict[str, Any] = {"skipped": dict(self.skipped_), "series": {}}
        for uid, group in self.scores_.groupby("unique_id"):
            out["series"][str(uid)] = {
                "choice": self.choice_[str(uid)],
                "reason": self.reasons_[str(uid)],
                "scores": {str(r.candidate): {"mase": _num(r.mase), "smape": _num(r.smape)}
                           for r in group.itertuples()},
            }
        return out

    def _save_state(self, directory: Path) -> None:
        for name, model in self.members_.items():
            model.save(directory / "members" / name)
        state = {k: v for k, v in self.__dict__.items() if k.endswith("_") and k != "members_"}
        joblib.dump(state, directory / _STATE)
        meta_file = directory / "metadata.json"
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        meta["selection"] = self.selection()
        meta_file.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")

    def _load_state(self, directory: Path) -> None:
        from capforecast.models.base import load_model

        state = joblib.load(directory / _STATE)
        if "default_" not in state:
            raise ModelError(
                f"{directory} holds an auto model from capforecast 0.1, whose selection rule has changed; "
                "retrain it (capforecast train --model auto ...) and save again"
            )
        self.__dict__.update(state)
        members_dir = directory / "members"
        self.members_ = {p.name: load_model(p) for p in sorted(members_dir.iterdir())} if members_dir.is_dir() \
            else {}


def _num(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
