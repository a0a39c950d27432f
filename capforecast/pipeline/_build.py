"""The steps up to the written outputs: ingest, backtest, select, train, forecast, plan and write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast._units import format_duration
from capforecast.compute import fan_out
from capforecast.config import Config
from capforecast.errors import CapforecastError, ConfigError, IngestError, ModelError
from capforecast.pipeline._champion import _previous_champion, _select, _train
from capforecast.pipeline._realised import _planned_pools, _score_earlier, _write_realised
from capforecast.pipeline._result import RunResult, _Steps, logger
from capforecast.planning.pools import PoolSet
from capforecast.planning.realised import Realised


def _build(cfg: Config, now: pd.Timestamp, staging: Path, timer: _Steps) -> tuple[RunResult, dict[str, Any]]:
    """Run every step up to the written outputs (in ``staging``); nothing outside it changes."""
    step, pools = cfg.series.step, cfg.pool_names
    end = now.floor(step) - step  # the newest step that is complete at ``now``
    result = RunResult("success", staging)
    info: dict[str, Any] = {}
    with timer.step("ingest", lambda: info["ingest"]):
        frame, new_rows = _ingest(cfg, end - cfg.series.history + step, end)
        result.rows_ingested = new_rows
        frame = frame[frame["unique_id"].isin(pools)].reset_index(drop=True)
        seen = set(frame["unique_id"])
        missing = [p for p in pools if p not in seen]
        if len(missing) == len(pools):
            raise IngestError(
                f"Prometheus returned no series for any pool {pools}; check series.query/series.id_labels "
                "(each series must be labelled with its pool name) and the pool names in the config"
            )
        for p in missing:
            result.notes.append(f"pool {p}: no data from Prometheus; the planner's fallback rule plans it")
            result.champions[p] = {"model": None, "fallback": True, "why": "no data"}
        info["ingest"] = f"{frame['unique_id'].nunique()} pools, {len(frame)} rows, {new_rows} new"
    have = [p for p in pools if p in seen]
    with timer.step("realised", lambda: info["realised"]):
        realised = _score_earlier(cfg, frame, end, result)
        scored = realised.summary["pools"]
        info["realised"] = (f"{len(scored)} pools scored, {len(realised.flagged())} flagged" if scored
                            else "no earlier plan covers the observed demand")
    last_seen = frame.groupby("unique_id")["ds"].max()
    if last_seen.max() + cfg.forecast.horizon < now.floor(step):
        raise IngestError(
            f"Prometheus has no data after {last_seen.max():%Y-%m-%d %H:%M} UTC for any pool, more than "
            f"forecast.horizon ({format_duration(cfg.forecast.horizon)}) before now, so nothing ahead can be "
            "planned; check that the exporters are scraped and series.query still matches"
        )
    for p, seen in last_seen[last_seen < end].items():
        result.notes.append(
            f"pool {p}: Prometheus has no data after {seen:%Y-%m-%d %H:%M} UTC; its forecast "
            "starts there and steps already past are not planned"
        )
    with timer.step("backtest", lambda: info["backtest"]):
        previous = {p: _previous_champion(cfg, p, result) for p in have}
        aliases = list(dict.fromkeys([*cfg.models.candidates, *(v["model"] for v in previous.values() if v)]))
        scores = _backtest(cfg, frame, aliases)
        info["backtest"] = f"{len(aliases)} models x {len(have)} pools, {cfg.backtest.windows} windows"
    with timer.step("select", lambda: info["select"]):
        for p in have:
            result.champions[p] = _select(cfg, p, scores, previous[p], result)
        info["select"] = ", ".join(f"{p}={c['model']}" for p, c in result.champions.items() if c["model"])
    models: dict[str, Any] = {}  # pool -> (model, the pool's rows); pools with a global champion share a model
    rows = {str(p): g for p, g in frame.groupby("unique_id", sort=False)}  # one pass, not one scan per pool
    with timer.step("train", lambda: f"{len({id(m) for m, _ in models.values()})} model(s)"):
        _train_all(cfg, have, rows, result, models)
    specs = _planned_pools(cfg, realised, result, [m for m, _ in models.values()])  # flagged: a stricter level
    quantiles = sorted({*cfg.quantiles(), *(p.service_quantile for p in specs)})
    horizon = _steps(cfg.forecast.horizon, step, "forecast.horizon")
    with timer.step("forecast", lambda: f"{horizon} steps, quantiles {quantiles}"):
        unique = list({id(m): m for m, _ in models.values()}.values())
        forecast = pd.concat(fan_out(_predict_task, [(m, horizon, quantiles) for m in unique]), ignore_index=True)
    with timer.step("plan", lambda: f"{len(plan)} rows"):
        plan = _plan(cfg, specs, forecast, frame, now, result)
        result.planned_nodes_max = {str(k): int(v) for k, v in plan.groupby("unique_id")["nodes"].max().items()}
    with timer.step("write", lambda: ", ".join(sorted(p.name for p in staging.iterdir()))):
        _write_realised(staging, realised)
        _write_outputs(cfg, specs, staging, frame, forecast, plan, scores, now, realised)
    if any(c.get("fallback") for c in result.champions.values()):
        result.status = "partial"
    return result, models


def _fit_task(task: tuple[str, dict[str, Any], pd.DataFrame]) -> Any:
    """Fit one pool's per-series champion (a task of the fan-out): the model, or the error it raised."""
    from capforecast.models import get_model

    alias, params, rows = task
    try:
        return get_model(alias, **params).fit(rows)
    except CapforecastError as exc:
        return exc


def _predict_task(task: tuple[Any, int, list[float]]) -> pd.DataFrame:
    model, horizon, quantiles = task
    return model.predict(horizon, quantiles=quantiles)


def _train_all(cfg: Config, have: list[str], rows: dict[str, pd.DataFrame], result: RunResult,
               models: dict[str, Any]) -> None:
    """Fit every pool's champion: per-series champions one pool per task (fanned out), each global champion
    once on the pools that share it. A pool whose champion fails falls back (see :func:`_train`)."""
    from capforecast.models import MODELS, model_class

    groups: dict[str, list[str]] = {}
    alone: list[str] = []
    for p in have:
        c = result.champions[p]
        if c["model"] in MODELS and model_class(c["model"]).per_series:
            alone.append(p)
        else:
            groups.setdefault(json.dumps([c["model"], c["params"]], sort_keys=True, default=str), []).append(p)
    tasks = [(result.champions[p]["model"], result.champions[p]["params"], rows[p]) for p in alone]
    for p, fitted in zip(alone, fan_out(_fit_task, tasks), strict=True):
        if isinstance(fitted, CapforecastError):  # again here, where the fallback is chosen and reported
            fitted = _train(cfg, [p], rows[p], result)
        models[p] = (fitted, rows[p])
    for members in groups.values():
        model = _train(cfg, members, pd.concat([rows[p] for p in members], ignore_index=True), result)
        for p in members:
            models[p] = (model, rows[p])


def _steps(span: pd.Timedelta, step: pd.Timedelta, key: str) -> int:
    n = span / step
    if n < 1 or n != int(n):
        raise ConfigError(
            f"{key} ({format_duration(span)}) must be a whole number of series.step "
            f"({format_duration(step)}); change it to a multiple such as {format_duration(step * 24)}"
        )
    return int(n)


def _ingest(cfg: Config, start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """Incremental ingest through the Prometheus cache: returns the series frame and the new rows pulled."""
    from capforecast.ingest.connection import Connection
    from capforecast.ingest.prometheus import fetch_cached

    p = cfg.prometheus
    conn = Connection.from_config(p, retries=p.retries, workers=p.workers)
    frame, new_rows = fetch_cached(
        conn,
        cfg.series,
        [(pool.name, pool.query) for pool in cfg.pools],
        start=start,
        end=end,
        cache_dir=cfg.output.cache_dir,
    )
    return frame, int(new_rows)


def _backtest(cfg: Config, frame: pd.DataFrame, aliases: list[str]) -> pd.DataFrame:
    """Backtest every candidate on every pool; a ``model x pool`` table of the configured score."""
    from capforecast.evaluation.backtest import cross_validation
    from capforecast.models import get_model

    bt = cfg.backtest
    h = _steps(bt.horizon, cfg.series.step, "backtest.horizon")
    models = {}
    for alias in aliases:
        try:
            models[alias] = get_model(alias, **cfg.models.params.get(alias, {}))
        except ModelError as exc:  # e.g. a model whose optional dependency is missing: skip it, say so
            logger.warning("nightly: candidate %s skipped: %s", alias, str(exc).splitlines()[0])
    if not models:
        return pd.DataFrame(index=pd.Index([], name="model"))
    result = cross_validation(
        frame,
        models,
        h=h,
        n_windows=bt.windows,
        step_size=_steps(bt.step, cfg.series.step, "backtest.step"),
        quantiles=cfg.quantiles(),
        progress=False,
        options={"h": "backtest.horizon", "n_windows": "backtest.windows", "step_size": "backtest.step"},
    )
    for alias, why in result.failures.items():
        logger.warning("nightly: backtest of %s failed: %s", alias, why)
    if result.scores.empty:
        return pd.DataFrame(index=pd.Index([], name="model"))
    return result.scores.pivot_table(index="model", columns="unique_id", values=bt.metric, aggfunc="mean")


def _plan(
    cfg: Config, pools: PoolSet, forecast: pd.DataFrame, frame: pd.DataFrame, now: pd.Timestamp, result: RunResult
) -> pd.DataFrame:
    """Turn the forecast into a plan with the pools' specs; the previous plan gives the current nodes."""
    from capforecast.planning.planner import plan_capacity

    state = _current_nodes(cfg, now, pools.names())
    # each pool has its own champion; plan_capacity plans from one model, so give them one label here
    # (forecast.csv keeps each pool's model name)
    start = now.floor(cfg.series.step)  # the step in progress: nothing earlier can still be planned
    plan = plan_capacity(forecast.assign(model="champion"), pools, state=state, now=start, history=frame)
    for pool, g in plan.groupby("unique_id", sort=False):
        champ = result.champions.setdefault(str(pool), {"model": None})
        if (g["rule"] == "fallback").any() and not champ.get("fallback"):
            champ.update(fallback=True, why=str(g["reason"].iloc[0]))
            result.notes.append(f"pool {pool}: {g['reason'].iloc[0]}")
        if g["capped"].any():
            result.notes.append(
                f"pool {pool}: the forecast needs up to {int(g['wanted_nodes'].max())} nodes, "
                f"above max_nodes; the plan is capped and its busy target cannot be met on those steps (see report.md)"
            )
    return plan


def _previous_plan(cfg: Config) -> pd.DataFrame | None:
    """The plan of the last good run (``latest/plan.csv``), or None."""
    path = cfg.output.latest / "plan.csv"
    if not path.is_file():
        return None
    from capforecast.planning.plan_file import read_plan

    try:
        return read_plan(path)
    except CapforecastError as exc:  # the same check as plan --previous-plan; here it only loses a comparison
        logger.warning("nightly: not planning from the previous plan %s: %s", path, exc)
        return None


def _current_nodes(cfg: Config, now: pd.Timestamp, pools: list[str]) -> dict[str, int]:
    """Nodes each pool holds now according to the previous plan, where that plan covers now."""
    prev = _previous_plan(cfg)
    if prev is None:
        return {}
    rows = prev[(prev["ds"] <= now) & (prev["ds"] > now - cfg.series.step) & prev["unique_id"].isin(pools)]
    return {str(u): int(n) for u, n in zip(rows["unique_id"], rows["nodes"], strict=True)}


def _write_outputs(
    cfg: Config,
    pools: PoolSet,
    run_dir: Path,
    frame: pd.DataFrame,
    forecast: pd.DataFrame,
    plan: pd.DataFrame,
    scores: pd.DataFrame,
    now: pd.Timestamp,
    realised: Realised | None = None,
) -> None:
    """forecast.csv, plan.csv, scores.csv, the kustomize overlay ``k8s/`` and ``report.md`` (+ PNGs)."""
    forecast.to_csv(run_dir / "forecast.csv", index=False)
    plan.to_csv(run_dir / "plan.csv", index=False)
    scores.rename_axis(index="model").reset_index().to_csv(run_dir / "scores.csv", index=False)
    from capforecast.emit import write_overlay, write_plan_json, write_report

    write_overlay(plan, pools, run_dir)
    write_plan_json(plan, pools, run_dir)
    write_report(run_dir, history=frame, forecast=forecast, plan=plan, pools=pools, previous_plan=_previous_plan(cfg),
                 realised=realised)
