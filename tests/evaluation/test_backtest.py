"""cross_validation: cutoffs, no peeking, refit policy, score tables, failures, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capforecast.errors import ConfigError
from capforecast.evaluation import cross_validation, score_forecasts
from capforecast.evaluation.metrics import mase
from capforecast.models.base import Forecaster


def _frame(days: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 24 * days
    ds = pd.date_range("2026-01-05", periods=n, freq="h", tz="UTC")
    t = np.arange(n)
    a = 50 + 20 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, n)
    b = np.cumsum(rng.normal(0, 1, n)) + 100  # a random walk: naive beats seasonal naive
    return pd.concat([pd.DataFrame({"unique_id": "a", "ds": ds, "y": a}),
                      pd.DataFrame({"unique_id": "b", "ds": ds[24:], "y": b[24:]})], ignore_index=True)


class _Peek(Forecaster):
    """Records the last timestamp it was trained on (to prove no window sees its future)."""

    alias = "peek"
    seen: list = []

    def _fit(self, frame: pd.DataFrame) -> None:
        _Peek.seen.append(frame.groupby("unique_id")["ds"].max().to_dict())
        self.last_ = frame.groupby("unique_id")["y"].last().to_dict()

    def _predict(self, horizon, quantiles):
        yhat = np.array([[self.last_[u]] * horizon for u in self.ids_])
        return yhat, {q: yhat for q in quantiles}


class _PeekUpdate(_Peek):
    """Like _Peek, with statsforecast-style ``update``: newer history, no retraining."""

    alias = "peek_update"
    updates = 0

    def update(self, df: pd.DataFrame) -> _PeekUpdate:
        _PeekUpdate.updates += 1
        self.last_ds_ = df.groupby("unique_id")["ds"].max()
        self.last_ = df.groupby("unique_id")["y"].last().to_dict()
        return self


class _Broken(Forecaster):
    alias = "broken"

    def _fit(self, frame: pd.DataFrame) -> None:
        from capforecast.errors import ModelError

        raise ModelError("broken: cannot fit; this model is a test double")


def test_cutoffs_actuals_and_no_peeking() -> None:
    df = _frame()
    _Peek.seen = []
    bt = cross_validation(df, {"peek": _Peek()}, h=24, n_windows=3, progress=False)
    fc = bt.forecasts
    assert list(fc.columns) == ["unique_id", "ds", "cutoff", "model", "yhat", "p50", "p90", "y"]
    for uid, g in fc.groupby("unique_id"):
        cutoffs = sorted(g["cutoff"].unique())
        assert len(cutoffs) == 3 and len(g) == 72
        end = df[df.unique_id == uid]["ds"].max()
        assert cutoffs[-1] == end - pd.Timedelta("24h")  # the last window ends at the series' end
        assert (g["ds"] > g["cutoff"]).all() and (g["ds"] <= g["cutoff"] + pd.Timedelta("24h")).all()
        merged = g.merge(df, on=["unique_id", "ds"], suffixes=("", "_true"))
        np.testing.assert_allclose(merged["y"], merged["y_true"])
    # each fit only ever saw data up to its cutoff
    seen_last = sorted(pd.Timestamp(s["a"]) for s in _Peek.seen)
    assert seen_last == sorted(fc[fc.unique_id == "a"]["cutoff"].unique())
    # the naive forecast is the value at the cutoff
    first = fc[(fc.unique_id == "a")].groupby("cutoff").first()
    at_cut = df[df.unique_id == "a"].set_index("ds")["y"]
    np.testing.assert_allclose(first["yhat"].to_numpy(), at_cut.loc[first.index].to_numpy())


def test_scores_match_metrics_and_pick_the_right_model() -> None:
    df = _frame()
    bt = cross_validation(df, ["naive", "seasonal_naive"], h=24, n_windows=2, progress=False)
    assert set(bt.scores.columns) >= {"model", "unique_id", "mase", "smape", "mae", "rmse",
                                      "pinball_p90", "coverage_p90"}
    s = bt.scores.set_index(["model", "unique_id"])["mase"]
    assert s[("seasonal_naive", "a")] < s[("naive", "a")]   # daily cycle
    assert s[("naive", "b")] < s[("seasonal_naive", "b")]   # random walk
    # one window scored by hand: MASE scale from the history up to the cutoff only
    w = bt.window_scores
    row = w[(w.model == "naive") & (w.unique_id == "a")].sort_values("cutoff").iloc[0]
    g = bt.forecasts[(bt.forecasts.model == "naive") & (bt.forecasts.unique_id == "a")
                     & (bt.forecasts.cutoff == row["cutoff"])]
    hist = df[(df.unique_id == "a") & (df.ds <= row["cutoff"])]["y"]
    assert row["mase"] == pytest.approx(mase(g["y"], g["yhat"], insample=hist, m=24))
    assert list(bt.summary().index) == ["naive", "seasonal_naive"]


def test_refit_every_k_windows_fits_less_and_forecasts_further() -> None:
    df = _frame()
    _Peek.seen = []
    bt = cross_validation(df, {"peek": _Peek()}, h=24, n_windows=4, refit=2, progress=False)
    assert len(_Peek.seen) == 2
    g = bt.forecasts[bt.forecasts.unique_id == "a"]
    # windows 2 and 4 reuse the fit of windows 1 and 3: same flat forecast level as the window before
    levels = g.groupby("cutoff")["yhat"].first().to_numpy()
    assert levels[0] == levels[1] and levels[2] == levels[3] and levels[1] != levels[2]
    _Peek.seen, _PeekUpdate.updates = [], 0
    upd = cross_validation(df, {"peek": _PeekUpdate()}, h=24, n_windows=4, refit=2, progress=False)
    assert len(_Peek.seen) == 2 and _PeekUpdate.updates == 2
    pd.testing.assert_frame_equal(upd.forecasts.drop(columns="model"),  # update == refit for this model
                                  cross_validation(df, {"peek": _Peek()}, h=24, n_windows=4, progress=False)
                                  .forecasts.drop(columns="model"))
    _Peek.seen = []
    once = cross_validation(df, {"peek": _Peek()}, h=24, n_windows=3, refit=False, progress=False)
    assert once.forecasts["cutoff"].nunique() == 3 and len(_Peek.seen) == 1


def test_failures_are_reported_not_fatal(capsys: pytest.CaptureFixture[str]) -> None:
    bt = cross_validation(_frame(), {"naive": "naive", "broken": _Broken()}, h=24, n_windows=2, progress=True)
    assert "broken" in bt.failures and "test double" in bt.failures["broken"]
    assert set(bt.scores["model"]) == {"naive"}
    assert "fits done" in capsys.readouterr().err


@pytest.mark.slow  # joblib worker start-up costs ~5 s on 2 busy cores
def test_parallel_gives_the_same_result() -> None:
    df = _frame(days=8)
    one = cross_validation(df, ["seasonal_naive"], h=24, n_windows=2, progress=False)
    two = cross_validation(df, ["seasonal_naive"], h=24, n_windows=2, progress=False, n_jobs=2)
    pd.testing.assert_frame_equal(one.forecasts, two.forecasts)


def test_errors_name_the_fix() -> None:
    df = _frame(days=3)
    # the fix is spelled as the caller wrote it: Python keywords here, the CLI's flags from the CLI
    with pytest.raises(ConfigError, match=r"too short.*; lower n_windows= or h=, or drop those series$"):
        cross_validation(df, ["naive"], h=24, n_windows=5, progress=False)
    with pytest.raises(ConfigError, match=r"too short.*; lower --windows or --horizon, or drop"):
        cross_validation(df, ["naive"], h=24, n_windows=5, progress=False,
                         options={"h": "--horizon", "n_windows": "--windows"})
    with pytest.raises(ConfigError, match="^h must be a whole number"):
        cross_validation(df, ["naive"], h=0, progress=False)
    with pytest.raises(ConfigError, match="^--horizon must be a whole number"):
        cross_validation(df, ["naive"], h=0, progress=False, options={"h": "--horizon"})
    with pytest.raises(ConfigError, match="both named"):
        cross_validation(df, ["naive", "naive"], h=2, progress=False)
    with pytest.raises(ConfigError, match="model alias"):
        cross_validation(df, [42], h=2, progress=False)
    with pytest.raises(Exception, match="unknown model"):
        cross_validation(df, ["nope"], h=2, progress=False)


def test_score_forecasts_needs_actuals() -> None:
    with pytest.raises(Exception, match="merge the actuals"):
        score_forecasts(pd.DataFrame({"unique_id": ["a"], "ds": [pd.Timestamp("2026-01-01", tz="UTC")],
                                      "model": ["m"], "yhat": [1.0]}), _frame(), m=24)
