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
from capforecast.config import Config
from capforecast.pipeline._result import RunResult, logger


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
