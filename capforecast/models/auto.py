"""``auto``: choose the best model per series by a rolling-origin backtest, never worse than seasonal naive.

At ``fit``, every candidate model (and, optionally, two ensembles of them) is backtested on the last
``n_windows`` windows of ``horizon`` steps of each series. Each series gets the candidate with the best
score, but only among candidates whose backtest MASE is no worse than ``seasonal_naive``'s (the floor):
when nothing beats the floor, the series keeps seasonal naive. The chosen models are then refit on all
the history. Quantiles are calibrated by split conformal prediction on the backtest residuals of the
chosen model (see :mod:`capforecast.evaluation.conformal`), so a P90 covers about 90 % out of sample.

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
from capforecast.models.base import Forecaster

__all__ = ["CANDIDATES", "DEFAULT_CANDIDATES", "AutoForecaster"]

#: Named candidates: name -> (registry alias, hyperparameters).
CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "seasonal_naive": ("seasonal_naive", {"season": "daily"}),
    "seasonal_naive_weekly": ("seasonal_naive", {"season": "weekly"}),
    "seasonal_median_daily": ("seasonal_quantile", {"season": "daily", "n_seasons": 7}),
    "seasonal_median_weekly": ("seasonal_quantile", {"season": "weekly", "n_seasons": 4}),
    "naive": ("naive", {}),
    "holt_winters": ("holt_winters", {}),
    "gbm": ("gbm", {}),
    "gbm_fast": ("gbm", {"max_iter": 100, "learning_rate": 0.1, "max_rows": 50_000}),
    "lstm": ("lstm", {}),
}
#: Fast, robust defaults (measured in docs/evaluation.md). Add "gbm_fast" for a better M4 MASE at ~7x the
#: time; "holt_winters", "gbm" and "lstm" can be added too.
DEFAULT_CANDIDATES = (
    "seasonal_naive",
    "naive",
    "seasonal_naive_weekly",
    "seasonal_median_daily",
    "seasonal_median_weekly",
)
FLOOR = "seasonal_naive"
ENSEMBLES = ("ensemble_median", "ensemble_top2")
_STATE = "auto_state.joblib"
_MIN_RESIDUALS = 10


class AutoForecaster(Forecaster):
    """Per-series model selection by backtest, with seasonal naive as the floor and conformal quantiles.

    Parameters
    ----------
    candidates : names from :data:`CANDIDATES` or registry aliases (default :data:`DEFAULT_CANDIDATES`);
        ``seasonal_naive`` is always added. Candidates whose module is not installed are skipped.
    horizon : backtest horizon in steps (default: one day of steps); use the horizon you will forecast.
    n_windows : backtest windows (fewer are used automatically when the history is short).
    metric : ``'mase'`` (default), ``'smape'`` or ``'owa'`` (mean of MASE and sMAPE relative to seasonal
        naive, as M4's OWA): what "best" means among the candidates that pass the MASE floor.
    ensemble : also consider the median of all candidates and the mean of each series' two best.
    calibrate : conformal quantiles from backtest residuals (else the chosen model's own quantiles).
    shrink : weight of seasonal naive in the forecast of a series whose choice is another model: the
        forecast is ``(1 - shrink) * chosen + shrink * seasonal_naive``. A backtest win over a few windows is
        partly luck; shrinking toward the floor keeps most of the gain and limits the loss when the luck
        runs out (0 = use the chosen model alone).
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

    def _fit(self, frame: pd.DataFrame) -> None:
        from capforecast.evaluation.backtest import cross_validation
        from capforecast.evaluation.metrics import season_length

        if not 0.0 <= float(self.shrink) <= 1.0:
            raise ConfigError(f"auto: shrink must be between 0 and 1, got {self.shrink!r}; e.g. 0.5 or 0 (off)")
        if self.metric not in ("owa", "mase", "smape"):
            raise ConfigError(f"auto: metric must be 'owa', 'mase' or 'smape', got {self.metric!r}")
        m = season_length(self.step_)
        h = int(self.horizon) if self.horizon else m
        models = self._models(h)
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

    def _candidate_table(self, fc: pd.DataFrame) -> pd.DataFrame:
        """Backtest point forecasts wide: index (unique_id, cutoff, ds), one column per candidate, plus y."""
        wide = fc.pivot_table(index=["unique_id", "cutoff", "ds"], columns="model", values="yhat",
                              aggfunc="first", sort=True)
        wide.columns = [str(c) for c in wide.columns]
        base = [c for c in wide.columns]
        wide["y"] = fc.drop_duplicates(["unique_id", "cutoff", "ds"]).set_index(["unique_id", "cutoff", "ds"])[
            "y"].reindex(wide.index)
        if self.ensemble and len(base) >= 3:
            wide["ensemble_median"] = wide[base].median(axis=1, skipna=True)
        self.base_candidates_ = base
        return wide

    def _scores(self, wide: pd.DataFrame, frame: pd.DataFrame, m: int, names: list[str]) -> pd.DataFrame:
        from capforecast.evaluation.scoring import score_forecasts

        long = wide[names + ["y"]].reset_index().melt(
            id_vars=["unique_id", "cutoff", "ds", "y"], var_name="model", value_name="yhat")
        long = long.dropna(subset=["yhat"])
        per_window = score_forecasts(long, frame, m=m)
        return per_window.groupby(["unique_id", "model"])[["mase", "smape"]].mean().reset_index()

    def _select(self, wide: pd.DataFrame, frame: pd.DataFrame, m: int) -> None:
        names = [c for c in wide.columns if c != "y"]
        scores = self._scores(wide, frame, m, names)
        table = scores.pivot(index="unique_id", columns="model", values="mase")
        top2: dict[str, list[str]] = {}
        if self.ensemble and len(self.base_candidates_) >= 2:
            for uid, row in table[self.base_candidates_].iterrows():
                top2[str(uid)] = list(row.dropna().sort_values().index[:2])
            pick = pd.Series({k: v for k, v in top2.items()}).reindex(wide.index.get_level_values(0))
            values = wide[self.base_candidates_].to_numpy()
            col = {c: i for i, c in enumerate(self.base_candidates_)}
            idx = np.array([[col[p[0]], col[p[-1]]] for p in pick])
            rows = np.arange(len(wide))
            wide["ensemble_top2"] = 0.5 * (values[rows, idx[:, 0]] + values[rows, idx[:, 1]])
            scores = pd.concat([scores, self._scores(wide, frame, m, ["ensemble_top2"])], ignore_index=True)
        floor = scores.loc[scores["model"] == FLOOR, ["unique_id", "mase", "smape"]]
        scores = scores.merge(floor.rename(columns={"mase": "mase_floor", "smape": "smape_floor"}),
                              on="unique_id", how="left")
        rel = {"mase": scores["mase"] / scores["mase_floor"], "smape": scores["smape"] / scores["smape_floor"]}
        scores["score"] = 0.5 * (rel["mase"] + rel["smape"]) if self.metric == "owa" else rel[self.metric]
        scores["passes_floor"] = (scores["mase"] <= scores["mase_floor"]) | (scores["model"] == FLOOR)
        self.scores_ = scores.rename(columns={"model": "candidate"})[
            ["unique_id", "candidate", "mase", "smape", "score", "passes_floor"]].reset_index(drop=True)
        self.choice_, self.reasons_, self.ensemble_members_ = {}, {}, {}
        for uid, group in self.scores_.groupby("unique_id"):
            uid = str(uid)
            ok = group[group["passes_floor"] & np.isfinite(group["score"])]
            best = ok.sort_values(["score", "mase"]).iloc[0] if len(ok) else group[group["candidate"] == FLOOR].iloc[0]
            sn = group[group["candidate"] == FLOOR].iloc[0]
            name = str(best["candidate"])
            self.choice_[uid] = name
            if name == "ensemble_median":
                self.ensemble_members_[uid] = list(self.base_candidates_)
            elif name == "ensemble_top2":
                self.ensemble_members_[uid] = top2[uid]
            self.reasons_[uid] = (
                f"{name}: backtest MASE {best['mase']:.3f}, sMAPE {best['smape']:.2f} vs seasonal_naive "
                f"{sn['mase']:.3f}, {sn['smape']:.2f} ({self.backtest_windows_} window(s) of "
                f"{self.backtest_horizon_} steps, best {self.metric} of {len(group)} candidates"
                + (")" if name != FLOOR else "; nothing beat the floor)")
            )
        chosen = wide.reset_index()
        self.residuals_, self.floor_residuals_ = {}, {}
        for uid, g in chosen.groupby("unique_id"):
            self.residuals_[str(uid)] = (g["y"] - g[self.choice_[str(uid)]]).to_numpy(dtype=float)
            self.floor_residuals_[str(uid)] = (g["y"] - g[FLOOR]).to_numpy(dtype=float)

    def _fit_members(self, frame: pd.DataFrame, models: dict[str, Forecaster]) -> None:
        needed = set(self.choice_.values()) - set(ENSEMBLES) | {FLOOR}
        for members in self.ensemble_members_.values():
            needed |= set(members)
        self.members_: dict[str, Forecaster] = {}
        for name in sorted(needed):
            try:
                self.members_[name] = type(models[name])(**models[name].get_params()).fit(frame)
            except CapforecastError as exc:
                if name == FLOOR:
                    raise
                self.skipped_[name] = f"final fit failed: {str(exc).splitlines()[0]}"
        for uid, name in list(self.choice_.items()):
            parts = self.ensemble_members_.get(uid, [name])
            lost = [p for p in parts if p not in self.members_]
            if lost:
                self.choice_[uid] = FLOOR
                self.ensemble_members_.pop(uid, None)
                self.reasons_[uid] = f"seasonal_naive: {name} was chosen but {lost} failed on the full history"
                self.residuals_[uid] = self.floor_residuals_[uid]

    # ------------------------------------------------------------------ predict
    def _predict(self, horizon: int, quantiles: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        from capforecast.evaluation.conformal import conformal_offsets

        native = not self.calibrate or any(
            np.isfinite(self.residuals_.get(u, np.array([]))).sum() < _MIN_RESIDUALS for u in self.ids_)
        levels = sorted(set(quantiles) | {0.5}) if native else [0.5]
        cols = [frames.quantile_column(q) for q in levels]
        member_fc = {}
        for name, model in self.members_.items():
            fc = model.predict(horizon, quantiles=levels)
            fc["step"] = fc.groupby("unique_id", sort=False).cumcount()
            member_fc[name] = {
                col: fc.pivot(index="unique_id", columns="step", values=col).reindex(self.ids_).to_numpy()
                for col in ["yhat", *cols]
            }
        n = len(self.ids_)
        yhat = np.empty((n, horizon))
        qv = {q: np.empty((n, horizon)) for q in quantiles}
        for i, uid in enumerate(self.ids_):
            parts = self.ensemble_members_.get(uid, [self.choice_[uid]])
            combine = np.median if self.choice_[uid] == "ensemble_median" else np.mean

            def pick(col: str, i: int = i, parts: list[str] = parts, combine: Any = combine) -> np.ndarray:
                return combine(np.stack([member_fc[p][col][i] for p in parts]), axis=0)

            w = 0.0 if self.choice_[uid] == FLOOR else float(self.shrink)

            def blend(col: str, i: int = i, w: float = w, pick: Any = pick) -> np.ndarray:
                return (1.0 - w) * pick(col) + w * member_fc[FLOOR][col][i] if w else pick(col)

            yhat[i] = blend("yhat")
            res = self.residuals_.get(uid)
            if res is not None and w:
                res = (1.0 - w) * res + w * self.floor_residuals_[uid]
            if self.calibrate and res is not None and np.isfinite(res).sum() >= _MIN_RESIDUALS:
                offsets = conformal_offsets(res, quantiles)
                for q in quantiles:
                    qv[q][i] = yhat[i] + float(offsets[q])
            else:
                for q in quantiles:
                    qv[q][i] = blend(frames.quantile_column(q))
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

        self.__dict__.update(joblib.load(directory / _STATE))
        members_dir = directory / "members"
        self.members_ = {p.name: load_model(p) for p in sorted(members_dir.iterdir())} if members_dir.is_dir() \
            else {}


def _num(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
