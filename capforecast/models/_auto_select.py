"""Candidates and the selection rule of :class:`~capforecast.models.auto.AutoForecaster`.

The candidate catalogue, the default ``median3`` and the floor, and the mixin that scores the backtest and
chooses a model per series (the rule is described in :mod:`capforecast.models.auto`, which re-exports these).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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
    # settings chosen on M4's last 48 training hours (docs/evaluation.md): ~1 min per fit on M4
    "gbm_window": ("gbm", {"normalize": "window", "max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 127,
                           "max_rows": 300_000, "n_bags": 4}),
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
#: The default every series starts from: the median of these three candidates' forecasts.
MEDIAN3 = "median3"
MEDIAN3_MEMBERS = ("seasonal_naive", "naive", "seasonal_median_daily")


class _Selection:
    """The backtest scoring and per-series choice of :class:`~capforecast.models.auto.AutoForecaster` (a mixin)."""

    # set by AutoForecaster: its parameters, and what _fit knows before the selection
    default: str
    ensemble: bool
    metric: str
    max_losses: int | None
    shrink: float
    skipped_: dict[str, str]
    backtest_windows_: int
    backtest_horizon_: int

    def _candidate_table(self, fc: pd.DataFrame) -> pd.DataFrame:
        """Backtest point forecasts wide: index (unique_id, cutoff, ds), one column per candidate, plus y."""
        wide = fc.pivot_table(index=["unique_id", "cutoff", "ds"], columns="model", values="yhat",
                              aggfunc="first", sort=True)
        wide.columns = [str(c) for c in wide.columns]
        base = list(wide.columns)
        wide["y"] = fc.drop_duplicates(["unique_id", "cutoff", "ds"]).set_index(["unique_id", "cutoff", "ds"])[
            "y"].reindex(wide.index)
        self.base_candidates_ = base
        self.combined_: dict[str, list[str]] = {}  # combination name -> members (combined by the median)
        if self.ensemble and len(base) >= 3:
            self.combined_["ensemble_median"] = list(base)
        if self.default == MEDIAN3:
            if set(MEDIAN3_MEMBERS) <= set(base):
                self.combined_[MEDIAN3] = list(MEDIAN3_MEMBERS)
                self.default_ = MEDIAN3
            else:
                self.default_ = FLOOR
                missing = sorted(set(MEDIAN3_MEMBERS) - set(base))
                self.skipped_[MEDIAN3] = f"needs {missing} among the candidates; the default is seasonal_naive"
        elif self.default in base:
            self.default_ = str(self.default)
        else:  # the default candidate failed in the backtest (listed in skipped_)
            self.default_ = FLOOR
        for name, members in self.combined_.items():
            wide[name] = wide[members].median(axis=1, skipna=True)
        return wide

    def _window_scores(self, wide: pd.DataFrame, frame: pd.DataFrame, m: int, names: list[str]) -> pd.DataFrame:
        """MASE and sMAPE per series, candidate and backtest window."""
        from capforecast.evaluation.scoring import score_forecasts

        long = wide[names + ["y"]].reset_index().melt(
            id_vars=["unique_id", "cutoff", "ds", "y"], var_name="model", value_name="yhat")
        long = long.dropna(subset=["yhat"])
        return score_forecasts(long, frame, m=m)[["unique_id", "model", "cutoff", "mase", "smape"]]

    def _select(self, wide: pd.DataFrame, frame: pd.DataFrame, m: int) -> None:
        names = [c for c in wide.columns if c != "y"]
        per_window = self._window_scores(wide, frame, m, names)
        scores = per_window.groupby(["unique_id", "model"])[["mase", "smape"]].mean().reset_index()
        default = self.default_
        by_window = per_window.pivot_table(index=["unique_id", "cutoff"], columns="model", values="mase",
                                           aggfunc="first", dropna=False)
        # windows in which each candidate's MASE is worse than the default's (NaN: no score, no loss)
        worse = by_window.gt(by_window[default], axis=0).groupby(level="unique_id").sum().stack()
        pairs = pd.MultiIndex.from_arrays([scores["unique_id"], scores["model"]])
        scores["losses"] = worse.reindex(pairs).fillna(0).astype(int).to_numpy()
        ref = {}
        for name, suffix in ((FLOOR, "floor"), (default, "default")):
            part = scores.loc[scores["model"] == name, ["unique_id", "mase", "smape"]]
            ref[suffix] = part.rename(columns={"mase": f"mase_{suffix}", "smape": f"smape_{suffix}"})
        scores = scores.merge(ref["floor"], on="unique_id", how="left").merge(ref["default"], on="unique_id",
                                                                              how="left")
        rel = {k: _relative(scores[k], scores[f"{k}_floor"]) for k in ("mase", "smape")}
        scores["score"] = 0.5 * (rel["mase"] + rel["smape"]) if self.metric == "owa" else rel[self.metric]
        scores["passes_floor"] = (scores["mase"] <= scores["mase_floor"]) | (scores["model"] == FLOOR)
        n = self.backtest_windows_
        allowed = None if self.max_losses is None else min(int(self.max_losses), (n - 1) // 2)  # and < half
        consistent = scores["losses"] <= (np.inf if allowed is None else allowed)
        scores["beats_default"] = (
            (scores["mase"] < scores["mase_default"]) & consistent & scores["passes_floor"]
            & np.isfinite(scores["score"]) & (scores["model"] != default)
        )
        self.scores_ = scores.rename(columns={"model": "candidate"})[
            ["unique_id", "candidate", "mase", "smape", "score", "losses", "passes_floor", "beats_default"]
        ].reset_index(drop=True)
        rule = f"a lower mean MASE, worse in at most {allowed} of {n} window(s)" \
            if allowed is not None else "a lower mean MASE"
        self.choice_, self.reasons_, self.anchor_ = {}, {}, {}
        for uid, group in self.scores_.groupby("unique_id"):
            uid = str(uid)
            ok = group[group["beats_default"]]
            dflt = group[group["candidate"] == default].iloc[0]
            best = ok.sort_values(["score", "mase"]).iloc[0] if len(ok) else dflt
            sn = group[group["candidate"] == FLOOR].iloc[0]
            name = str(best["candidate"])
            self.choice_[uid] = name
            # a challenger is blended with the more accurate (on the backtest) of the default and the floor
            self.anchor_[uid] = FLOOR if sn["mase"] < dflt["mase"] else default
            versus = (f"seasonal_naive {_mase(sn['mase'])}, {sn['smape']:.2f}; {n} window(s) of "
                      f"{self.backtest_horizon_} steps")
            if name == default:
                lucky = (f"; seasonal_naive's mean MASE is lower, but it was worse than the default in "
                         f"{int(sn['losses'])} of {n} window(s)" if sn["mase"] < best["mase"] else "")
                self.reasons_[uid] = (
                    f"{name} (the default): backtest MASE {_mase(best['mase'])}, sMAPE {best['smape']:.2f} vs "
                    f"{versus}; no candidate beat it consistently ({rule}){lucky}"
                )
            else:
                blended = name != FLOOR and float(self.shrink) > 0
                self.reasons_[uid] = (
                    f"{name}: backtest MASE {_mase(best['mase'])}, sMAPE {best['smape']:.2f} vs the default {default} "
                    f"{_mase(dflt['mase'])}, worse in {int(best['losses'])} of {n} window(s); vs {versus}"
                    + (f"; blended with {float(self.shrink):.0%} of {self.anchor_[uid]}" if blended else "")
                )
        chosen = wide.reset_index()
        self.residuals_, self.default_residuals_, self.floor_residuals_ = {}, {}, {}
        for uid, g in chosen.groupby("unique_id"):
            self.residuals_[str(uid)] = (g["y"] - g[self.choice_[str(uid)]]).to_numpy(dtype=float)
            self.default_residuals_[str(uid)] = (g["y"] - g[default]).to_numpy(dtype=float)
            self.floor_residuals_[str(uid)] = (g["y"] - g[FLOOR]).to_numpy(dtype=float)


def _relative(score: pd.Series, floor: pd.Series) -> pd.Series:
    """``score / floor``, where a perfect floor (0) makes a perfect score 1 (as good) and any other ``inf``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = score / floor
    return ratio.mask((floor == 0) & (score == 0), 1.0)


def _mase(value: float) -> str:
    return "n/a (history too short)" if np.isnan(value) else f"{value:.3f}"
