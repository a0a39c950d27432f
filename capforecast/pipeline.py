"""The nightly job: ingest -> backtest -> champion -> forecast -> plan -> outputs, then swap ``latest``.

Everything is written into a hidden staging directory first; only when every step has succeeded are the
new champions recorded in the registry, the staging directory renamed to ``runs/<date>`` and the ``latest``
symlink swapped with one atomic ``rename``. A failure at any step therefore leaves the last good models,
plan and ``latest`` exactly as they were. A lock file (``flock``, released by the kernel if the process
dies) stops two runs at once. Running twice for the same day reuses the finished run unless ``force``.

Exit codes: 0 success, 3 partial (some pools fell back to the fallback model or rule), 1 failure.

Examples
--------
>>> from capforecast.config import load_config            # doctest: +SKIP
>>> result = run_nightly(load_config("deploy/nightly.example.yaml"))  # doctest: +SKIP
>>> result.status, result.run_dir                          # doctest: +SKIP
('success', PosixPath('/var/lib/capforecast/runs/2026-05-01'))
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast import jobmetrics
from capforecast._units import format_duration, parse_time
from capforecast.config import Config
from capforecast.errors import CapforecastError, ConfigError, IngestError, ModelError

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_PARTIAL", "LockedError", "RunResult", "STEPS", "run_nightly"]

logger = logging.getLogger("capforecast.nightly")

EXIT_OK, EXIT_FAILURE, EXIT_PARTIAL = 0, 1, 3
STEPS = ("ingest", "backtest", "select", "train", "forecast", "plan", "write", "publish")
ProgressFn = Callable[[str, int, int], None]


class LockedError(CapforecastError):
    """Another nightly run holds the lock; this run changed nothing."""


@dataclass
class RunResult:
    """What one nightly run did.

    Attributes
    ----------
    status : str
        ``"success"``, ``"partial"`` or ``"reused"`` (the day's run already existed).
    run_dir : Path
        The dated run directory (``latest`` points at it).
    champions : dict
        Per pool, ``{"model": alias, "score": float, "kept_previous": bool, "fallback": bool, "why": str}``.
    steps : dict
        Seconds spent in each step.

    Examples
    --------
    >>> RunResult("success", Path("runs/2026-05-01")).exit_code
    0
    """

    status: str
    run_dir: Path
    date: str = ""
    champions: dict[str, dict] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rows_ingested: int = 0
    planned_nodes_max: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 for success (or a reused finished run that succeeded), 3 for partial."""
        return EXIT_PARTIAL if self.status == "partial" else EXIT_OK

    @property
    def fallback_pools(self) -> list[str]:
        """Pools that fell back to the fallback model or rule."""
        return sorted(p for p, c in self.champions.items() if c.get("fallback"))


@contextlib.contextmanager
def nightly_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking ``flock`` on ``path``; raise :class:`LockedError` if it is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise LockedError(
                f"another nightly run is in progress ({holder}; lock {path}); this run changed nothing — "
                "wait for it to finish (the lock is released automatically when that process exits)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {pd.Timestamp.now(tz='UTC'):%Y-%m-%dT%H:%M:%SZ}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class _Steps:
    """Times each step, logs one line per step with its duration, and reports progress."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str, detail: Callable[[], str] | None = None) -> Iterator[None]:
        if self.progress is not None:
            self.progress(name, STEPS.index(name) + 1, len(STEPS))
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            self.seconds[name] = time.perf_counter() - start
            logger.error("nightly: %-8s failed after %.1fs", name, self.seconds[name])
            raise
        self.seconds[name] = time.perf_counter() - start
        extra = f" ({detail()})" if detail is not None else ""
        logger.info("nightly: %-8s done in %.1fs%s", name, self.seconds[name], extra)


def run_nightly(
    cfg: Config,
    *,
    now: pd.Timestamp | str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> RunResult:
    """Run the nightly job once for the UTC day of ``now`` (default: the current time).

    Raises :class:`LockedError` if another run holds the lock (nothing is touched, not even the job
    metrics), and any other :class:`~capforecast.errors.CapforecastError` on failure, after writing the
    failure to the job-metrics file; the previous run, models and ``latest`` are left as they were.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else parse_time(now, name="now")
    out = cfg.output
    date = f"{now:%Y-%m-%d}"
    final = out.runs_dir / date
    with nightly_lock(out.lock_file):
        for leftover in out.runs_dir.glob(".*.staging-*"):  # from a run that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        if not force and (final / "run.json").is_file():
            done = json.loads((final / "run.json").read_text(encoding="utf-8"))
            logger.info(
                "nightly: the run for %s already finished (%s) in %s; reusing it (use --force to run it again)",
                date,
                done.get("status"),
                final,
            )
            if _latest_date(cfg) < date:  # killed between moving the run into place and swapping latest
                _point_latest(cfg, final)
            return RunResult(
                "reused" if done.get("status") != "partial" else "partial",
                final,
                date,
                champions=done.get("champions", {}),
                notes=["reused the finished run"],
            )
        started, timer = time.time(), _Steps(progress)
        staging = out.runs_dir / f".{date}.staging-{os.getpid()}"
        try:
            staging.mkdir(parents=True)
            result, models = _build(cfg, now, staging, timer)
            result.run_dir, result.date = final, date
            with timer.step("publish", lambda: f"latest -> {final}"):
                _write_json(staging / "run.json", _summary(result, now, timer.seconds))
                _publish(cfg, models, staging, final)
            result.steps = dict(timer.seconds)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            _write_metrics(cfg, started, "failure", timer.seconds, None)
            raise
        _write_metrics(cfg, started, result.status, timer.seconds, result)
        logger.info(
            "nightly: %s in %s; outputs in %s",
            result.status,
            format_duration(pd.Timedelta(seconds=round(time.time() - started))),
            final,
        )
        return result


# --------------------------------------------------------------------------------------------- the steps
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
        missing = [p for p in pools if p not in set(frame["unique_id"])]
        if len(missing) == len(pools):
            raise IngestError(
                f"Prometheus returned no series for any pool {pools}; check series.query/series.id_labels "
                "(each series must be labelled with its pool name) and the pool names in the config"
            )
        for p in missing:
            result.notes.append(f"pool {p}: no data from Prometheus; the planner's fallback rule plans it")
            result.champions[p] = {"model": None, "fallback": True, "why": "no data"}
        info["ingest"] = f"{frame['unique_id'].nunique()} pools, {len(frame)} rows, {new_rows} new"
    have = [p for p in pools if p not in missing]
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
    models: dict[str, Any] = {}  # pool -> (model, the pool's rows); pools with one champion share a model
    with timer.step("train", lambda: f"{len({id(m) for m, _ in models.values()})} model(s)"):
        groups: dict[str, list[str]] = {}
        for p in have:
            c = result.champions[p]
            groups.setdefault(json.dumps([c["model"], c["params"]], sort_keys=True, default=str), []).append(p)
        for members in groups.values():
            model = _train(cfg, members, frame[frame["unique_id"].isin(members)], result)
            for p in members:
                models[p] = (model, frame[frame["unique_id"] == p])
    horizon = _steps(cfg.forecast.horizon, step, "forecast.horizon")
    with timer.step("forecast", lambda: f"{horizon} steps, quantiles {cfg.quantiles()}"):
        unique = {id(m): m for m, _ in models.values()}
        forecast = pd.concat(
            [m.predict(horizon, quantiles=cfg.quantiles()) for m in unique.values()], ignore_index=True
        )
    with timer.step("plan", lambda: f"{len(plan)} rows"):
        plan = _plan(cfg, forecast, frame, now, result)
        result.planned_nodes_max = {str(k): int(v) for k, v in plan.groupby("unique_id")["nodes"].max().items()}
    with timer.step("write", lambda: ", ".join(sorted(p.name for p in staging.iterdir()))):
        _write_outputs(cfg, staging, frame, forecast, plan, scores, now)
    if any(c.get("fallback") for c in result.champions.values()):
        result.status = "partial"
    return result, models


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


def _previous_champion(cfg: Config, pool: str, result: RunResult) -> dict[str, Any] | None:
    """The pool's current champion in the registry (alias, params, score), verified; None if there is none.

    An entry that cannot be read or fails its checksums is reported and treated as no champion, so the
    run picks a new one (and records it as a new version) instead of failing every night.
    """
    from capforecast import registry

    root = cfg.output.registry
    if not registry.versions(pool, root):
        return None
    try:
        meta = registry.load_metadata(pool, "champion", root)
        registry.load(pool, meta["version"], root)  # verifies every file against its checksum
    except ModelError as exc:
        first = str(exc).splitlines()[0]
        result.notes.append(f"pool {pool}: the registry's champion entry is unreadable ({first}); choosing anew")
        logger.warning("nightly: pool %s: previous champion unreadable, choosing a new one: %s", pool, first)
        return None
    score = (meta.get("scores") or {}).get(cfg.backtest.metric)
    return {"model": meta["alias"], "params": meta.get("params") or {}, "score": score, "version": meta["version"]}


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
    )
    for alias, why in result.failures.items():
        logger.warning("nightly: backtest of %s failed: %s", alias, why)
    if result.scores.empty:
        return pd.DataFrame(index=pd.Index([], name="model"))
    return result.scores.pivot_table(index="model", columns="unique_id", values=bt.metric, aggfunc="mean")


def _select(
    cfg: Config, pool: str, scores: pd.DataFrame, prev: dict[str, Any] | None, result: RunResult
) -> dict[str, Any]:
    """Pick the pool's champion: the best backtest score, unless the previous champion does as well."""
    col = scores[pool].dropna() if pool in scores.columns else pd.Series(dtype=float)
    col = col[[a in cfg.models.candidates or (prev and a == prev["model"]) for a in col.index]]
    metric = cfg.backtest.metric
    if col.empty:
        why = f"no candidate could be backtested; using the fallback {cfg.models.fallback}"
        result.notes.append(f"pool {pool}: {why}")
        return {
            "model": cfg.models.fallback,
            "params": cfg.models.params.get(cfg.models.fallback, {}),
            "score": None,
            "fallback": True,
            "kept_previous": False,
            "why": why,
        }
    best = str(col.idxmin())
    entry: dict[str, Any] = {
        "model": best,
        "params": dict(cfg.models.params.get(best, {})),
        "score": float(col[best]),
        "fallback": False,
        "kept_previous": False,
        "why": f"best {metric} {col[best]:.3f} of {len(col)} backtested",
    }
    if prev and prev["model"] in col.index and prev["model"] != best:
        prev_score = float(col[prev["model"]])
        if col[best] > prev_score * (1 - cfg.models.min_improvement):
            entry.update(
                model=prev["model"],
                params=dict(prev.get("params") or {}),
                score=prev_score,
                kept_previous=True,
                why=f"kept previous champion {prev['model']} ({metric} {prev_score:.3f}): challenger "
                f"{best} scored {col[best]:.3f}, not better by {cfg.models.min_improvement:.0%}",
            )
            result.notes.append(f"pool {pool}: {entry['why']}")
            logger.info("nightly: pool %s: %s", pool, entry["why"])
    elif prev and prev["model"] not in col.index:
        entry["why"] += f"; previous champion {prev['model']} could not be backtested"
    return entry


def _train(cfg: Config, pools: list[str], frame: pd.DataFrame, result: RunResult) -> Any:
    """Fit the champion these pools share on their whole history (one global model for them all).

    If it cannot be trained, the pools fall back to ``models.fallback``; series the model itself hands to
    its documented baseline fallback (``fallbacks_``) are reported too. Both make the run partial.
    """
    from capforecast.models import get_model

    champ = result.champions[pools[0]]
    try:
        model = get_model(champ["model"], **champ["params"]).fit(frame)
    except CapforecastError as exc:
        first = str(exc).splitlines()[0]
        if champ["model"] == cfg.models.fallback:
            raise ModelError(
                f"pools {pools}: even the fallback model {champ['model']} cannot be trained ({first}); "
                "check these pools' data in Prometheus"
            ) from None
        why = f"{champ['model']} failed to train ({first}); using the fallback {cfg.models.fallback}"
        logger.warning("nightly: pools %s: %s", ", ".join(pools), why)
        params = dict(cfg.models.params.get(cfg.models.fallback, {}))
        for p in pools:
            result.notes.append(f"pool {p}: {why}")
            result.champions[p].update(model=cfg.models.fallback, params=params, fallback=True, why=why, score=None)
        return get_model(cfg.models.fallback, **params).fit(frame)
    for p, why in sorted(getattr(model, "fallbacks_", {}).items()):
        if p in result.champions:
            result.champions[p].update(fallback=True, why=f"{champ['model']}: {why}")
            result.notes.append(f"pool {p}: {champ['model']} fell back: {why}")
    return model


def _plan(
    cfg: Config, forecast: pd.DataFrame, frame: pd.DataFrame, now: pd.Timestamp, result: RunResult
) -> pd.DataFrame:
    """Turn the forecast into a plan with the pools' specs; the previous plan gives the current nodes."""
    from capforecast.planning.planner import plan_capacity

    pools = cfg.pool_specs()
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
                f"above max_nodes; the plan is capped (see report.md)"
            )
    return plan


def _previous_plan(cfg: Config) -> pd.DataFrame | None:
    """The plan of the last good run (``latest/plan.csv``), or None."""
    path = cfg.output.latest / "plan.csv"
    if not path.is_file():
        return None
    try:
        prev = pd.read_csv(path)
        prev["ds"] = pd.to_datetime(prev["ds"], utc=True)
        prev["unique_id"] = prev["unique_id"].astype(str)
    except (ValueError, OSError, KeyError) as exc:
        logger.warning("nightly: cannot read the previous plan %s (%s); planning without it", path, exc)
        return None
    return prev


def _current_nodes(cfg: Config, now: pd.Timestamp, pools: list[str]) -> dict[str, int]:
    """Nodes each pool holds now according to the previous plan, where that plan covers now."""
    prev = _previous_plan(cfg)
    if prev is None:
        return {}
    rows = prev[(prev["ds"] <= now) & (prev["ds"] > now - cfg.series.step) & prev["unique_id"].isin(pools)]
    return {str(u): int(n) for u, n in zip(rows["unique_id"], rows["nodes"], strict=True)}


def _write_outputs(
    cfg: Config,
    run_dir: Path,
    frame: pd.DataFrame,
    forecast: pd.DataFrame,
    plan: pd.DataFrame,
    scores: pd.DataFrame,
    now: pd.Timestamp,
) -> None:
    """forecast.csv, plan.csv, scores.csv, the kustomize overlay ``k8s/`` and ``report.md`` (+ PNGs)."""
    forecast.to_csv(run_dir / "forecast.csv", index=False)
    plan.to_csv(run_dir / "plan.csv", index=False)
    scores.rename_axis(index="model").reset_index().to_csv(run_dir / "scores.csv", index=False)
    from capforecast.emit import write_overlay, write_plan_json, write_report

    pools = cfg.pool_specs()
    write_overlay(plan, pools, run_dir)
    write_plan_json(plan, pools, run_dir)
    write_report(run_dir, history=frame, forecast=forecast, plan=plan, pools=pools, previous_plan=_previous_plan(cfg))


# --------------------------------------------------------------------------------------------- publishing
def _publish(cfg: Config, models: dict[str, Any], staging: Path, final: Path) -> None:
    """Record the champions, then move the run into place and swap ``latest`` (each an atomic rename)."""
    from capforecast import registry

    root = cfg.output.registry
    summary = json.loads((staging / "run.json").read_text(encoding="utf-8"))
    versions = {}
    for pool, (model, frame) in models.items():  # new versions first: the champion pointers do not move yet
        champ = summary["champions"][pool]
        scores = {cfg.backtest.metric: champ["score"]} if champ.get("score") is not None else None
        extra = {"why": champ["why"], "run": summary["date"], "fallback": bool(champ.get("fallback"))}
        versions[pool] = registry.save(model, pool, root, metadata=extra, frame=frame, scores=scores)
    for pool, version in versions.items():
        registry.promote(pool, version, root)
    old = None
    if final.exists():  # a forced re-run of the same day
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(staging, final)
    _point_latest(cfg, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    runs = sorted(d for d in cfg.output.runs_dir.iterdir() if d.is_dir() and not d.name.startswith("."))
    for stale in runs[: max(0, len(runs) - cfg.output.keep_runs)]:
        if stale != final:
            shutil.rmtree(stale, ignore_errors=True)


def _point_latest(cfg: Config, run_dir: Path) -> None:
    """Swap the ``latest`` symlink to ``run_dir`` atomically (a new link renamed over the old one)."""
    link = cfg.output.latest
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(run_dir, link.parent), tmp)
    os.replace(tmp, link)


def _latest_date(cfg: Config) -> str:
    """The date of the run ``latest`` points at ('' if none)."""
    link = cfg.output.latest
    return Path(os.readlink(link)).name if link.is_symlink() else ""


def _summary(result: RunResult, now: pd.Timestamp, steps: dict[str, float]) -> dict[str, Any]:
    out = asdict(result)
    out.update(run_dir=str(result.run_dir), now=now.isoformat(), steps={k: round(v, 3) for k, v in steps.items()})
    return out


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _write_metrics(cfg: Config, started: float, status: str, steps: dict[str, float], result: RunResult | None) -> None:
    """Write the node-exporter textfile (if configured); a failure here is logged, never raised."""
    if cfg.output.metrics_file is None:
        return
    ended = time.time()
    m = jobmetrics.JobMetrics(
        start_time=started,
        end_time=ended,
        status=status,
        metric=cfg.backtest.metric,
        last_success_time=ended if status in ("success", "partial") else None,
        step_seconds=dict(steps),
    )
    if result is not None:
        m.backtest_score = {p: c["score"] for p, c in result.champions.items() if c.get("score") is not None}
        m.fallback = {p: int(bool(c.get("fallback"))) for p, c in result.champions.items()}
        m.planned_nodes_max = dict(result.planned_nodes_max)
    try:
        jobmetrics.write_textfile(cfg.output.metrics_file, m)
    except OSError as exc:
        logger.error("nightly: cannot write job metrics to %s: %s", cfg.output.metrics_file, exc)
