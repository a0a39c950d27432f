"""Rolling-origin backtests (``cross_validation``) for any model of the :class:`Forecaster` contract.

Each window cuts every series at a *cutoff*, fits the model on the history up to it (only that history:
nothing after the cutoff is ever seen), forecasts ``h`` steps and compares with what happened. Cutoffs are
counted back from the end of each series, as statsforecast does, so series of different lengths are
backtested on their own last windows.

Examples
--------
>>> from capforecast.ingest.sample import make_sample
>>> frame = make_sample(days=21, pools=["a100-train"])
>>> bt = cross_validation(frame, ["naive", "seasonal_naive"], h=24, n_windows=2, progress=False)
>>> sorted(bt.summary().index)
['naive', 'seasonal_naive']
>>> {"cutoff", "y", "yhat"} <= set(bt.forecasts.columns)
True
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from capforecast import _reported, frames
from capforecast.errors import CapforecastError, ConfigError, spell
from capforecast.evaluation.scoring import score_forecasts

if TYPE_CHECKING:
    from capforecast.models.base import Forecaster

__all__ = ["SERIES_PER_TASK", "Backtest", "cross_validation", "resolve_models"]

#: series per backtest task of a per-series model (``Forecaster.per_series``): the unit of the fan-out
SERIES_PER_TASK = 64

@dataclass
class Backtest:
    """What :func:`cross_validation` returns.

    Attributes
    ----------
    forecasts : forecast frame plus ``cutoff`` (last training step of the window) and ``y`` (the actual).
    window_scores : one row per model, series and cutoff (MAE, RMSE, sMAPE, MASE, pinball, coverage).
    scores : ``window_scores`` averaged over the windows: one row per model and series.
    failures : ``{model: error message}`` for models that could not be backtested.
    seconds : wall time per model (fit + predict, summed over windows).

    Examples
    --------
    >>> from capforecast.ingest.sample import make_sample
    >>> bt = cross_validation(make_sample(days=14, pools=["a"]), ["naive", "seasonal_naive"], h=24, n_windows=2,
    ...                       progress=False)
    >>> list(bt.summary().index), bt.forecasts["cutoff"].nunique()
    (['naive', 'seasonal_naive'], 2)
    """

    forecasts: pd.DataFrame
    window_scores: pd.DataFrame
    scores: pd.DataFrame
    failures: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean of each metric over series, one row per model (M4 scores a set this way)."""
        if self.scores.empty:
            return pd.DataFrame()
        numeric = self.scores.drop(columns=["unique_id"]).groupby("model", sort=False).mean(numeric_only=True)
        return numeric


def resolve_models(models: Any) -> dict[str, Forecaster]:
    """Turn aliases, models or ``{name: alias-or-model}`` into ``{name: unfitted model}``."""
    from capforecast.models.base import Forecaster

    if not isinstance(models, (str, Mapping, Iterable)):
        raise ConfigError(f"models: expected aliases such as ['seasonal_naive', 'gbm'], models or a mapping, got "
                          f"{models!r}")
    items = list(models.items()) if isinstance(models, Mapping) else [(None, m) for m in models]
    if isinstance(models, str):
        items = [(None, m.strip()) for m in models.split(",") if m.strip()]
    if not items:
        raise ConfigError("no models to backtest; pass aliases such as ['seasonal_naive', 'gbm', 'auto']")
    out: dict[str, Forecaster] = {}
    for name, model in items:
        if isinstance(model, str):
            from capforecast.models import get_model

            model = get_model(model)
        if not isinstance(model, Forecaster):
            raise ConfigError(
                f"cannot backtest {model!r}: pass a model alias (e.g. 'seasonal_naive') "
                "or a Forecaster instance"
            )
        key = name or model.alias
        if key in out:
            raise ConfigError(
                f"two models are both named {key!r}; pass a dict to name them, e.g. "
                "{'snaive_daily': SeasonalNaive(season='daily'), "
                "'snaive_weekly': SeasonalNaive(season='weekly')}"
            )
        out[key] = model
    return out


def _clone(model: Forecaster) -> Forecaster:
    return type(model)(**model.get_params())


def _window_bounds(lengths: pd.Series, h: int, n_windows: int, step_size: int) -> list[pd.Series]:
    """For each window (oldest first), the number of training rows of each series."""
    return [lengths - h - (n_windows - 1 - w) * step_size for w in range(n_windows)]


def _run_task(
    name: str,
    model: Forecaster,
    trains: list[pd.DataFrame],
    horizons: list[int],
    h: int,
    quantiles: list[float],
) -> tuple[str, list[pd.DataFrame], float]:
    """Fit on the first window's history; later windows use ``update`` (newer history, no retraining) when
    the model has it, else the fitted model forecasts further ahead (it never sees data after its fit)."""
    from capforecast.models.base import Forecaster

    start = time.perf_counter()
    fitted = _clone(model)
    if isinstance(fitted, Forecaster) and type(fitted).fit is Forecaster.fit:  # cut from a checked frame
        fitted._fit_regular(trains[0], frames.infer_step(trains[0]))
    else:
        fitted.fit(trains[0])
    parts = []
    if len(trains) > 1 and hasattr(fitted, "update"):
        for i, train in enumerate(trains):
            if i:
                fitted.update(train)
            parts.append(fitted.predict(h, quantiles=quantiles).assign(model=name))
        return name, parts, time.perf_counter() - start
    fc = fitted.predict(max(horizons) + h, quantiles=quantiles)
    fc["step"] = fc.groupby("unique_id", sort=False).cumcount()
    for ahead in horizons:
        part = fc[(fc["step"] >= ahead) & (fc["step"] < ahead + h)].drop(columns="step")
        parts.append(part.assign(model=name))
    return name, parts, time.perf_counter() - start


@_reported.once()  # the frame's warnings are said once, not again by each window's fit
def cross_validation(
    df: pd.DataFrame,
    models: Any,
    h: int,
    n_windows: int = 1,
    step_size: int | None = None,
    refit: bool | int = True,
    quantiles: Iterable[float] | str = (0.5, 0.9),
    *,
    season: int | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
    options: Mapping[str, str] | None = None,
) -> Backtest:
    """Backtest ``models`` on ``n_windows`` rolling origins of ``h`` steps each.

    Parameters
    ----------
    df : series frame (validated; gaps become NaN rows whose steps are not scored).
    models : aliases (``['seasonal_naive', 'gbm']``), Forecaster instances, or ``{name: alias or model}``.
    h : forecast horizon in steps.
    n_windows : number of cutoffs; the last window ends at the end of each series.
    step_size : steps between cutoffs (default ``h``: windows do not overlap).
    refit : ``True`` refits at every cutoff; an int ``k`` refits every ``k`` windows and ``False`` only at the
        first. Between refits, a model with an ``update(frame)`` method (GBM, LSTM) is given the newer
        history without retraining; any other model forecasts further ahead from its last fit (it never
        sees data after it), which is honest but scores worse than refitting.
    quantiles : levels forecast and scored (pinball loss and coverage).
    season : season length for MASE (default: from the step, 24 for hourly).
    n_jobs : ``None`` (default) runs the fits on joblib's current backend (:func:`capforecast.compute.engine`,
        or your own ``joblib.parallel_config``; by default one after another in this process); ``1`` in this
        process; ``k`` (``-1``: every core) on ``k`` local worker processes (loky). The fits are cut the same way
        on every backend: one per model and window for global models (GBM, LSTM), and per chunk of
        :data:`SERIES_PER_TASK` series for per-series models, so the results never depend on the backend.
    progress : print one line per finished fit to stderr.
    options : how the caller spells ``h``, ``n_windows``, ``step_size`` and ``refit`` in the fix an error
        suggests (the CLI: ``{"h": "--horizon", "n_windows": "--windows", ...}``); default: these keywords.

    Returns
    -------
    Backtest
        Forecasts keyed by ``cutoff`` with the actual ``y``, and score tables per model x series.
    """
    frame = frames.regularize(df)  # validates it first
    h, n_windows = _positive(h, "h", options), _positive(n_windows, "n_windows", options)
    step_size = h if step_size is None else _positive(step_size, "step_size", options)
    every = n_windows if refit is False else 1 if refit is True else _positive(refit, "refit", options)
    levels = frames.parse_quantiles(quantiles)
    named = resolve_models(models)
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0):
        raise ConfigError(f"n_jobs must be a non-zero whole number (-1: every core), got {n_jobs!r}")

    frame = frame.reset_index(drop=True)
    pos = frame.groupby("unique_id", sort=False).cumcount()
    lengths = frame.groupby("unique_id", sort=False)["y"].size()
    bounds = _window_bounds(lengths, h, n_windows, step_size)
    if (bounds[0] < 1).any():
        short = bounds[0][bounds[0] < 1].index.tolist()
        need = h + (n_windows - 1) * step_size + 1
        raise ConfigError(
            f"series {short[:5]} are too short for {n_windows} window(s) of h={h} "
            f"(need more than {need} steps); lower {' or '.join(spell(options, n) for n in ('n_windows', 'h'))}, "
            "or drop those series"
        )

    chunk = pd.Series(pd.factorize(frame["unique_id"])[0] // SERIES_PER_TASK, index=frame.index)
    tasks = []
    for first in range(0, n_windows, every):
        windows = list(range(first, min(first + every, n_windows)))
        keep = [pos < frame["unique_id"].map(bounds[w]) for w in windows]
        trains = [frame[k].reset_index(drop=True) for k in keep]
        # per-series models: the same windows cut into chunks of series (one split of each frame, O(rows))
        chunks = list(zip(*(_split(frame[k], chunk[k]) for k in keep), strict=True))
        horizons = [(w - first) * step_size for w in windows]
        for name, model in named.items():
            for part in chunks if getattr(model, "per_series", False) else [trains]:
                tasks.append((name, model, list(part), horizons, windows))

    results, failures, seconds = _execute(tasks, h, levels, n_jobs, progress)
    return _assemble(frame, pos, bounds, results, failures, seconds, h, season, levels)


def _split(frame: pd.DataFrame, labels: pd.Series) -> list[pd.DataFrame]:
    return [g.reset_index(drop=True) for _, g in frame.groupby(labels, sort=True)]


def _positive(value: Any, name: str, options: Mapping[str, str] | None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{spell(options, name).rstrip('=') or name} must be a whole number >= 1, got {value!r}")
    return int(value)


def _execute(
    tasks: list[tuple[Any, ...]], h: int, levels: list[float], n_jobs: int | None, progress: bool
) -> tuple[list[tuple[str, list[int], list[pd.DataFrame]]], dict[str, str], dict[str, float]]:
    from capforecast.compute import Compute, engine, fan_out

    results: list[tuple[str, list[int], list[pd.DataFrame]]] = []
    failures: dict[str, str] = {}
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    reported = _reported.seen()  # a worker process does not repeat what this one said about the frame

    def safe(task: tuple[Any, ...]) -> tuple[str, Any, float]:
        name, model, trains, horizons, _ = task
        try:
            with _reported.once(reported):
                return _run_task(name, model, trains, horizons, h, levels)
        except CapforecastError as exc:
            return name, exc, 0.0

    if n_jobs is None or n_jobs == 1:  # joblib's current backend (see capforecast.compute), or this process
        where: Any = engine(None if n_jobs is None else Compute("sequential"))
    else:
        import joblib

        where = joblib.parallel_config(backend="loky", n_jobs=int(n_jobs))  # -1: every core
    with where:
        outputs = fan_out(safe, tasks, lazy=True)
        for done, (task, (name, parts, took)) in enumerate(zip(tasks, outputs, strict=True), start=1):
            if isinstance(parts, Exception):
                failures.setdefault(name, str(parts).split("\n")[0])
                took = 0.0
            else:
                results.append((name, task[4], parts))
            seconds[name] = seconds.get(name, 0.0) + took
            if progress:
                print(f"backtest: {done}/{len(tasks)} fits done ({name} took {took:.1f}s, "
                      f"{time.perf_counter() - t0:.0f}s elapsed)", file=sys.stderr, flush=True)
    results = [r for r in results if r[0] not in failures]
    return results, failures, seconds


def _assemble(
    frame: pd.DataFrame,
    pos: pd.Series,
    bounds: list[pd.Series],
    results: list[tuple[str, list[int], list[pd.DataFrame]]],
    failures: dict[str, str],
    seconds: dict[str, float],
    h: int,
    season: int | None,
    levels: list[float],
) -> Backtest:
    ids = frame["unique_id"]
    cutoffs = []
    for w, n_train in enumerate(bounds):
        last = frame[pos == ids.map(n_train) - 1][["unique_id", "ds"]].rename(columns={"ds": "cutoff"})
        cutoffs.append(last.assign(window=w))
    cutoff_table = pd.concat(cutoffs, ignore_index=True)
    parts = []
    for _name, windows, fcs in results:
        for w, fc in zip(windows, fcs, strict=True):
            parts.append(fc.assign(window=w))
    if not parts:
        empty = pd.DataFrame()
        return Backtest(empty, empty, empty, failures, seconds)
    fc = pd.concat(parts, ignore_index=True).merge(cutoff_table, on=["unique_id", "window"], how="left")
    fc = fc.merge(frame[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="left")
    cols = ["unique_id", "ds", "cutoff", "model", "yhat", *[frames.quantile_column(q) for q in levels], "y"]
    fc = fc[cols].sort_values(["model", "unique_id", "cutoff", "ds"], kind="stable").reset_index(drop=True)
    m = season if season is not None else _season(frame)
    window_scores = score_forecasts(fc, frame, m=m)
    scores = (
        window_scores.drop(columns=["cutoff"])
        .groupby(["model", "unique_id"], sort=False)
        .mean(numeric_only=True)
        .reset_index()
    )
    return Backtest(fc, window_scores, scores, failures, seconds)


def _season(frame: pd.DataFrame) -> int:
    from capforecast.evaluation.metrics import season_length

    return season_length(frames.infer_step(frame))
