"""Publishing a finished run: the registry, the ``runs/<date>`` move, ``latest``, run.json and job metrics."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from capforecast import jobmetrics
from capforecast._io import fsync_dir, publish, write_text
from capforecast._owned import check_folder, is_ours, mark_folder
from capforecast.config import Config
from capforecast.errors import OutputError
from capforecast.pipeline._result import RunResult, logger

_RUN_LAYOUT = frozenset({"forecast.csv", "plan.csv", "scores.csv", "plan.json", "report.md", "k8s", "report",
                         "run.json"})


def _old_run(folder: Path) -> bool:
    """A run folder written before manifests: its run.json and nothing beside the files a run writes."""
    return (folder / "run.json").is_file() and all(p.name in _RUN_LAYOUT for p in folder.iterdir())


def _check_targets(cfg: Config, final: Path) -> None:
    """Refuse, before anything changes, to replace a run folder or a ``latest`` that capforecast did not write."""
    check_folder(final, legacy=_old_run)
    link = cfg.output.latest
    if os.path.lexists(link) and not link.is_symlink():
        raise OutputError(f"{link} is not the symlink capforecast keeps there (output.latest), so it is not "
                          "replaced; move it away or set output.latest to another path")


def _check_champions(cfg: Config) -> None:
    """Refuse, before any work, a pool's champion pointer capforecast did not write: it is promoted last, so a
    refusal there would come after the run is published (a pointer obstructed mid-run is finished by the next run,
    see :func:`_publish`)."""
    from capforecast import registry

    for pool in cfg.pool_specs().names():
        registry.check_promotable(pool, cfg.output.registry)


def _publish(cfg: Config, models: dict[str, Any], staging: Path, final: Path) -> None:
    """Save the new model versions, move the run into place, swap ``latest``, then promote the champions.

    The last good state holds at every step: new versions stay unused until promoted; the run folder is complete
    before it moves in (one atomic swap) and before ``latest`` points at it (one atomic rename); a failure before
    the champions are promoted is completed by the next run of that day, which reuses the run and promotes the
    versions its ``run.json`` records.
    """
    from capforecast import registry

    root = cfg.output.registry
    summary = json.loads((staging / "run.json").read_text(encoding="utf-8"))
    _check_targets(cfg, final)
    versions: dict[str, str] = {}
    first: dict[int, tuple[str, str]] = {}  # the pool and version a shared (global) model was saved under first
    for pool, (model, frame) in models.items():
        champ = summary["champions"][pool]
        scores = {cfg.backtest.metric: champ["score"]} if champ.get("score") is not None else None
        extra = {"why": champ["why"], "run": summary["date"], "fallback": bool(champ.get("fallback"))}
        versions[pool] = registry.save(model, pool, root, metadata=extra, frame=frame, scores=scores,
                                       same_as=first.get(id(model)))
        first.setdefault(id(model), (pool, versions[pool]))
    # when the run finished, for the job metrics' last-success time (also after later runs that fail)
    finished = pd.Timestamp.now(tz="UTC").isoformat()
    _write_json(staging / "run.json", {**summary, "registry_versions": versions, "finished_at": finished})
    mark_folder(staging)
    _check_targets(cfg, final)  # again: something may have appeared there while the run was built
    publish(staging, final)
    _point_latest(cfg, final)
    _promote(cfg, versions)
    runs = sorted(d for d in cfg.output.runs_dir.iterdir() if not d.name.startswith(".") and d != final
                  and is_ours(d, _old_run))  # a folder capforecast did not write is never deleted
    for stale in runs[: max(0, len(runs) + 1 - cfg.output.keep_runs)]:
        shutil.rmtree(stale, ignore_errors=True)


def _promote(cfg: Config, versions: dict[str, str]) -> None:
    """Make each pool's saved version its champion (a no-op for pointers already there)."""
    from capforecast import registry

    for pool, version in versions.items():
        registry.promote(pool, version, cfg.output.registry)


def _point_latest(cfg: Config, run_dir: Path) -> None:
    """Swap the ``latest`` symlink to ``run_dir`` atomically (a new link renamed over the old one)."""
    link = cfg.output.latest
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(run_dir, link.parent), tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)


def _latest_date(cfg: Config) -> str:
    """The date of the run ``latest`` points at ('' if none)."""
    link = cfg.output.latest
    return Path(os.readlink(link)).name if link.is_symlink() else ""


def _summary(result: RunResult, now: pd.Timestamp, steps: dict[str, float]) -> dict[str, Any]:
    out = asdict(result)
    out.update(run_dir=str(result.run_dir), now=now.isoformat(), steps={k: round(v, 3) for k, v in steps.items()})
    return out


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON state atomically and durably (synced; see :func:`capforecast._io.write_text`)."""
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def _last_success(cfg: Config) -> float | None:
    """When the run ``latest`` points at finished (its run.json's ``finished_at``; for a run written before that
    key, when its run.json was written), in Unix seconds; None without a readable one."""
    path = cfg.output.latest / "run.json"
    try:
        finished = json.loads(path.read_text(encoding="utf-8")).get("finished_at")
        return pd.Timestamp(finished).timestamp() if finished else path.stat().st_mtime
    except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError):
        return None


def _write_metrics(cfg: Config, started: float, status: str, steps: dict[str, float], result: RunResult | None) -> None:
    """Write the node-exporter textfile (if configured); a failure here is logged, never raised."""
    if cfg.output.metrics_file is None:
        return
    m = jobmetrics.JobMetrics(
        start_time=started,
        end_time=time.time(),
        status=status,
        metric=cfg.backtest.metric,
        last_success_time=_last_success(cfg),  # after a success, latest is this run
        step_seconds=dict(steps),
    )
    if result is not None:
        m.backtest_score = {p: c["score"] for p, c in result.champions.items() if c.get("score") is not None}
        m.fallback = {p: int(bool(c.get("fallback"))) for p, c in result.champions.items()}
        m.planned_nodes_max = dict(result.planned_nodes_max)
        m.realised = dict(result.realised)
    try:
        jobmetrics.write_textfile(cfg.output.metrics_file, m)
    except (OSError, OutputError) as exc:  # e.g. a file of that name that capforecast did not write
        logger.error("nightly: cannot write job metrics to %s: %s", cfg.output.metrics_file, exc)
