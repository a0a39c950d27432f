"""A ``prometheus_client`` collector that serves a run directory's plan and forecast for the time of each scrape.

The collector keeps the last snapshot of the run directory (see :mod:`capforecast.exporter._run`) and reads it
again when what the path resolves to, or any file it reads, has changed (the nightly job swapping ``latest``
to a new run). If that re-read fails, the previous snapshot keeps being served and
``capforecast_exporter_run_ok`` is 0. Metric names and labels are documented in docs/exporter.md.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator

import pandas as pd
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from capforecast.errors import CapforecastError
from capforecast.exporter._run import RunSnapshot, load_run, run_key
from capforecast.jobmetrics import REALISED, REALISED_FLAGGED, REALISED_PREFIX

__all__ = ["METRICS", "RunCollector"]

logger = logging.getLogger("capforecast.exporter")

#: Every family the collector can emit (name as exposed -> help); docs/exporter.md lists the same.
METRICS = {
    "capforecast_planned_nodes": "Nodes the plan requests for the pool in the reservation window in force now.",
    "capforecast_planned_gpus": "GPUs the plan requests for the pool now (planned nodes x GPUs per node).",
    "capforecast_planned_spare_gpus": "Planned GPUs above the expected use now: what placeholder pods hold.",
    "capforecast_plan_end_timestamp_seconds": "Unix time the pool's last planned window ends.",
    "capforecast_forecast_yhat": "Point forecast of the pool's demand for now (at=now) or now + lead time (at=lead).",
    "capforecast_forecast_quantile": "Forecast quantile of the pool's demand for now or now + lead time.",
    "capforecast_lead_time_seconds": "Time a new node of the pool needs to be ready (the plan's lead time).",
    "capforecast_target_busy_ratio": "The pool's busy target: share of time demand may exceed capacity.",
    # from the run's realised.json: the same names, labels and values as the job's textfile metrics
    **{REALISED_PREFIX + name: help_text for _, name, help_text in REALISED},
    REALISED_PREFIX + "flagged": REALISED_FLAGGED,
    "capforecast_champion_info": "The model forecasting the pool in this run.",
    "capforecast_run_info": "The run directory being served.",
    "capforecast_run_timestamp_seconds": "Unix time the served nightly run planned from (its 'now').",
    "capforecast_exporter_evaluation_timestamp_seconds": "The time the values are computed for (now, or --at).",
    "capforecast_exporter_run_ok": "1 if the run directory was read; 0 if its last re-read failed (stale values).",
}


def _gauge(name: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, METRICS[name], labels=labels)


class RunCollector(Collector):
    """Collect the metrics of the run directory ``run_dir`` (a path or the ``latest`` symlink).

    Parameters
    ----------
    run_dir : path
        The run directory; it is read now, so a bad one raises here
        (:class:`~capforecast.errors.OutputError`), not at the first scrape.
    clock : callable, optional
        Returns the time the values are for; default: the current time. ``lambda: fixed`` serves one instant.

    Examples
    --------
    A run directory holding only a ``plan.json`` with one window, served for a time inside it:

    >>> import json, pathlib, tempfile
    >>> import pandas as pd
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> window = {"apply_at": "2026-05-01T00:00:00Z", "until": "2026-05-01T06:00:00Z", "nodes": 3, "spare_gpus": 5}
    >>> pool = {"gpus_per_node": 8, "service_quantile": 0.95, "lead_time_seconds": 900, "windows": [window]}
    >>> _ = (run / "plan.json").write_text(json.dumps({"pools": {"a100": pool}}))
    >>> registry = CollectorRegistry()
    >>> registry.register(RunCollector(run, clock=lambda: pd.Timestamp("2026-05-01T01:00Z")))
    >>> for line in generate_latest(registry).decode().splitlines():
    ...     if line.startswith("capforecast_planned"):
    ...         print(line)
    capforecast_planned_nodes{pool="a100"} 3.0
    capforecast_planned_gpus{pool="a100"} 24.0
    capforecast_planned_spare_gpus{pool="a100"} 5.0
    """

    def __init__(self, run_dir: str | os.PathLike[str], clock: Callable[[], pd.Timestamp] | None = None) -> None:
        self.run_dir = run_dir
        self.clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))
        self._lock = threading.Lock()
        self._key = run_key(run_dir)
        self._snapshot = load_run(run_dir)
        self._ok = True

    def snapshot(self) -> RunSnapshot:
        """The current snapshot, read again first if the run directory changed since the last read."""
        with self._lock:
            key = run_key(self.run_dir)
            if key != self._key:
                try:
                    self._snapshot, self._ok = load_run(self.run_dir), True
                    logger.info("exporter: serving %s", self._snapshot.path)
                except CapforecastError as exc:  # keep serving the last good run, and say so
                    self._ok = False
                    logger.warning("exporter: keeping %s: %s", self._snapshot.path, exc)
                self._key = key
            return self._snapshot

    def collect(self) -> Iterator[Metric]:
        snap, now = self.snapshot(), pd.Timestamp(self.clock())
        now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")  # naive: taken as UTC
        yield from _pool_families(snap, now)
        yield from _run_families(snap)
        when = _gauge("capforecast_exporter_evaluation_timestamp_seconds", [])
        when.add_metric([], now.timestamp())
        ok = _gauge("capforecast_exporter_run_ok", [])
        ok.add_metric([], 1.0 if self._ok else 0.0)
        yield from (when, ok)


def _pool_families(snap: RunSnapshot, now: pd.Timestamp) -> Iterator[Metric]:
    names = ("capforecast_planned_nodes", "capforecast_planned_gpus", "capforecast_planned_spare_gpus",
             "capforecast_plan_end_timestamp_seconds", "capforecast_lead_time_seconds",
             "capforecast_target_busy_ratio")
    fam = {n: _gauge(n, ["pool"]) for n in names}
    yhat = _gauge("capforecast_forecast_yhat", ["pool", "at"])
    quant = _gauge("capforecast_forecast_quantile", ["pool", "at", "level"])  # "quantile" is for summaries
    for pool, spec in sorted(snap.pools.items()):
        v = snap.values_at(pool, now)
        planned = {"capforecast_planned_nodes": v.nodes, "capforecast_planned_gpus": v.gpus,
                   "capforecast_planned_spare_gpus": v.spare_gpus}
        for name, count in planned.items():
            if count is not None:  # outside every window: no value rather than a made-up one
                fam[name].add_metric([pool], count)
        if pool in snap.plan_end:
            fam["capforecast_plan_end_timestamp_seconds"].add_metric([pool], snap.plan_end[pool].timestamp())
        if spec.lead_time is not None:
            fam["capforecast_lead_time_seconds"].add_metric([pool], spec.lead_time.total_seconds())
        fam["capforecast_target_busy_ratio"].add_metric([pool], round(snap.target_busy(pool), 12))
        for at, values in v.forecast.items():
            for key, value in values.items():
                if key == "yhat":
                    yhat.add_metric([pool, at], value)
                else:
                    quant.add_metric([pool, at, key], value)
    yield from fam.values()
    yield from (yhat, quant)
    yield from _realised_families(snap)


def _realised_families(snap: RunSnapshot) -> Iterator[Metric]:
    """realised.json's scores; a run without it (or with no pool scored yet) has no such series."""
    for _, name, _ in REALISED:
        fam = _gauge(REALISED_PREFIX + name, ["pool", "window"])
        for pool, scores in sorted(snap.realised.items()):
            for window, value in sorted(scores[name].items()):
                fam.add_metric([pool, window], value)
        if fam.samples:
            yield fam
    if snap.realised:
        flagged = _gauge(REALISED_PREFIX + "flagged", ["pool"])
        for pool, scores in sorted(snap.realised.items()):
            flagged.add_metric([pool], scores["flagged"])
        yield flagged


def _run_families(snap: RunSnapshot) -> Iterator[Metric]:
    champion = InfoMetricFamily("capforecast_champion", METRICS["capforecast_champion_info"], labels=["pool"])
    for pool, labels in sorted(snap.champions.items()):
        champion.add_metric([pool], labels)
    run = InfoMetricFamily("capforecast_run", METRICS["capforecast_run_info"])
    run.add_metric([], {"path": str(snap.path), "date": snap.run.get("date", ""),
                        "status": snap.run.get("status", "")})
    yield from (champion, run)
    if snap.run.get("now") is not None:
        ts = _gauge("capforecast_run_timestamp_seconds", [])
        ts.add_metric([], snap.run["now"])
        yield ts
