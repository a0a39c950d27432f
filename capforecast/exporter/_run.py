"""One run directory, read once: each pool's reservation windows, the forecast, the champions and realised busy.

A run directory is what the nightly job publishes as ``runs/<date>`` (and points ``latest`` at), or the output
folder of ``capforecast plan``: ``plan.json`` is required; ``forecast.csv``, ``run.json`` and ``realised.json``
add their metrics when present. :meth:`RunSnapshot.values_at` answers what holds at one instant, so the
exporter computes its values for the time of each scrape. Any file that is there but cannot be read is a
:class:`~capforecast.errors.OutputError` naming it; see docs/exporter.md for the layout.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from capforecast.errors import CapforecastError, OutputError

__all__ = ["PoolValues", "RunSnapshot", "load_run", "run_key"]

#: The files a snapshot reads; a change to any of them (or to where ``latest`` points) means a re-read.
FILES = ("plan.json", "forecast.csv", "run.json", "realised.json")
_FIX = "pass --run-dir the nightly job's output.latest (OUTPUT/latest) or one of its runs/<date> folders"


@dataclass(frozen=True)
class _Pool:
    gpus_per_node: int
    service_quantile: float
    lead_time: pd.Timedelta | None
    apply_at: np.ndarray  # datetime64[ns] UTC, sorted
    until: np.ndarray
    nodes: np.ndarray
    spare_gpus: np.ndarray


@dataclass(frozen=True)
class _Forecast:
    ds: np.ndarray  # datetime64[ns] UTC, sorted
    names: tuple[str, ...]  # "yhat", then the quantile levels ("0.5", "0.9", ...)
    values: np.ndarray  # one row per ds, one column per name


@dataclass
class PoolValues:
    """What holds for one pool at one instant (None: not known at that instant)."""

    nodes: int | None = None
    gpus: int | None = None
    spare_gpus: int | None = None
    forecast: dict[str, dict[str, float]] = field(default_factory=dict)  # at ("now", "lead") -> {"yhat"|q: value}


@dataclass(frozen=True)
class RunSnapshot:
    """The parts of a run directory the exporter serves (see the module docstring)."""

    path: Path
    pools: dict[str, _Pool]
    plan_end: dict[str, pd.Timestamp]
    forecast: dict[str, _Forecast]
    forecast_step: pd.Timedelta | None
    champions: dict[str, dict[str, str]]  # pool -> labels of capforecast_champion_info
    run: dict[str, Any]  # date, status, now (Unix seconds) from run.json
    realised: dict[str, dict[str, Any]]  # pool -> metric -> window -> value, and "flagged"

    def target_busy(self, pool: str) -> float:
        return 1.0 - self.pools[pool].service_quantile

    def values_at(self, pool: str, t: pd.Timestamp) -> PoolValues:
        """The planned capacity in force at ``t`` (its reservation window) and the forecast for ``t`` and for
        ``t`` plus the pool's lead time."""
        spec, out = self.pools[pool], PoolValues()
        t64 = np.datetime64(t.tz_convert("UTC").tz_localize(None), "ns")
        i = int(np.searchsorted(spec.apply_at, t64, side="right")) - 1
        if i >= 0 and t64 < spec.until[i]:
            out.nodes = int(spec.nodes[i])
            out.gpus = out.nodes * spec.gpus_per_node
            out.spare_gpus = int(spec.spare_gpus[i])
        fc = self.forecast.get(pool)
        if fc is None or self.forecast_step is None:
            return out
        step = np.timedelta64(self.forecast_step.value, "ns")
        targets = {"now": t64} if spec.lead_time is None else {
            "now": t64, "lead": t64 + np.timedelta64(spec.lead_time.value, "ns")}
        for at, when in targets.items():  # the step that contains the time: ds <= when < ds + step
            j = int(np.searchsorted(fc.ds, when, side="right")) - 1
            if j >= 0 and when < fc.ds[j] + step:
                out.forecast[at] = dict(zip(fc.names, fc.values[j].tolist(), strict=True))
        return out


def run_key(run_dir: str | os.PathLike[str]) -> tuple:
    """What identifies the run's current contents cheaply: where ``run_dir`` resolves to and its files' stats."""
    real = os.path.realpath(run_dir)
    stats: list[tuple[int, int, int] | None] = []
    for name in ("", *FILES):
        try:
            st = os.stat(os.path.join(real, name))
            stats.append((st.st_ino, st.st_mtime_ns, st.st_size))
        except OSError:
            stats.append(None)
    return (real, *stats)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise OutputError(f"{path} cannot be read ({type(exc).__name__}: {exc}); {_FIX}") from None


def _bad(path: Path, what: str) -> OutputError:
    return OutputError(f"{path} is not the {what} capforecast writes; {_FIX}")


def _times(values: list, path: Path, key: str) -> np.ndarray:
    try:
        return pd.to_datetime(values, utc=True).tz_localize(None).to_numpy(dtype="datetime64[ns]")
    except (ValueError, TypeError):
        raise _bad(path, f"plan (its windows' {key} are not times)") from None


def _read_plan(path: Path) -> tuple[dict[str, _Pool], dict[str, pd.Timestamp]]:
    doc = _read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("pools"), dict):
        raise _bad(path, 'plan ({"pools": {...}})')
    pools, ends = {}, {}
    for name, p in doc["pools"].items():
        try:
            wins = sorted(p["windows"], key=lambda w: w["apply_at"])
            lead = p.get("lead_time_seconds")  # plans written before the exporter have none
            pools[str(name)] = _Pool(
                gpus_per_node=int(p["gpus_per_node"]),
                service_quantile=float(p["service_quantile"]),
                lead_time=None if lead is None else pd.Timedelta(seconds=float(lead)),
                apply_at=_times([w["apply_at"] for w in wins], path, "apply_at"),
                until=_times([w["until"] for w in wins], path, "until"),
                nodes=np.array([int(w["nodes"]) for w in wins], dtype=np.int64),
                spare_gpus=np.array([int(w["spare_gpus"]) for w in wins], dtype=np.int64),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise _bad(path, f"plan (pool {name!r} lacks gpus_per_node, service_quantile or windows)") from None
        if len(wins):
            ends[str(name)] = pd.Timestamp(pools[str(name)].until.max(), tz="UTC")
    return pools, ends


def _read_forecast(path: Path) -> tuple[dict[str, _Forecast], pd.Timedelta | None]:
    if not path.is_file():
        return {}, None
    from capforecast.emit.schedule import plan_step
    from capforecast.frames import quantile_columns, validate_forecast
    from capforecast.planning.plan_file import read_timed_frame

    try:
        fc = validate_forecast(read_timed_frame(path, "forecast"), name=str(path))
    except CapforecastError as exc:
        raise OutputError(f"{exc}; {_FIX}") from None
    levels = quantile_columns(fc)
    names = ("yhat", *(f"{q:g}" for q in levels))
    cols = ["yhat", *levels.values()]
    by_pool = {}
    for u, g in fc.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True):
        by_pool[str(u)] = _Forecast(ds=g["ds"].dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"), names=names,
                                    values=g[cols].to_numpy(dtype="float64"))
    return by_pool, plan_step(fc)


def _read_run(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    if not path.is_file():
        return {}, {}
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise _bad(path, "run summary (a mapping)")
    run: dict[str, Any] = {"date": str(doc.get("date", "")), "status": str(doc.get("status", ""))}
    try:
        run["now"] = pd.Timestamp(doc["now"]).timestamp() if doc.get("now") else None
    except (ValueError, TypeError):
        raise _bad(path, "run summary (its 'now' is not a time)") from None
    versions = doc.get("registry_versions") or {}
    champions = {}
    for pool, c in (doc.get("champions") or {}).items():
        if isinstance(c, dict) and c.get("model"):
            champions[str(pool)] = {"model": str(c["model"]), "version": str(versions.get(pool, "")),
                                    "fallback": "true" if c.get("fallback") else "false"}
    return run, champions


def _read_realised(path: Path) -> dict[str, dict[str, Any]]:
    """``realised.json`` (docs/outputs.md): per pool, ``{"<metric>": {window label: value}, "flagged": 0|1}`` for
    the metrics the job's textfile has (:data:`capforecast.jobmetrics.REALISED`), windows labelled ``1d``/``7d``."""
    if not path.is_file():
        return {}
    from capforecast.jobmetrics import REALISED, REALISED_WINDOWS

    doc = _read_json(path)
    out: dict[str, dict[str, Any]] = {}
    try:
        for pool, scores in doc["pools"].items():
            entry: dict[str, Any] = {"flagged": float(bool(scores.get("flagged")))}
            for key, name, _ in REALISED:
                values = {label: float(scores[window][key]) for window, label in REALISED_WINDOWS.items()
                          if window in scores and scores[window].get(key) is not None}
                entry[name] = {w: v for w, v in values.items() if not math.isnan(v)}
            out[str(pool)] = entry
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _bad(path, 'realised scores ({"pools": {pool: {"last_day": {"busy_ratio": ...}, ...}}})') from None
    return out


def load_run(run_dir: str | os.PathLike[str]) -> RunSnapshot:
    """Read the run directory ``run_dir`` (following ``latest``); raise :class:`OutputError` if it is not one."""
    path = Path(run_dir)
    if not path.is_dir():
        what = "does not exist" if not os.path.lexists(path) else "is not a folder"
        raise OutputError(f"run directory {path} {what}; {_FIX}")
    if not (path / "plan.json").is_file():
        raise OutputError(f"{path} has no plan.json, so it is not a run directory; {_FIX}")
    real = Path(os.path.realpath(path))
    pools, ends = _read_plan(real / "plan.json")
    forecast, step = _read_forecast(real / "forecast.csv")
    run, champions = _read_run(real / "run.json")
    return RunSnapshot(path=real, pools=pools, plan_end=ends, forecast=forecast, forecast_step=step,
                       champions=champions, run=run, realised=_read_realised(real / "realised.json"))
