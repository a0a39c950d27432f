"""Job metrics for node-exporter's textfile collector, so ops can alert on a stale or failing nightly job.

The metrics are ``prometheus_client`` gauges in their own :class:`~prometheus_client.CollectorRegistry`, rendered
by its ``generate_latest``. node-exporter reads every ``*.prom`` file in its ``--collector.textfile.directory``;
a half-written file would be read as garbage, so :func:`write_textfile` publishes the text through
:func:`capforecast._io.atomic_path` (a synced temporary file beside it, renamed over the old one), and only over
a file capforecast wrote (``prometheus_client.write_to_textfile`` does the rename but neither syncs the file nor
checks whose file it replaces). The last *successful* run time is the caller's to give (the nightly job keeps it
in its runs' ``run.json``), so ``time() - capforecast_nightly_last_success_timestamp_seconds > 26*3600`` alerts
on a job that keeps failing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

__all__ = ["JobMetrics", "REALISED", "REALISED_PREFIX", "REALISED_WINDOWS", "registry", "render", "write_textfile"]

PREFIX = "capforecast_nightly_"
REALISED_PREFIX = "capforecast_realised_"  # what earlier plans delivered: a property of the pools, not of the job
#: realised.json's windows and the ``window`` label each one gets
REALISED_WINDOWS = {"last_day": "1d", "last_7_days": "7d"}
REALISED = (  # (key in realised.json, metric name after REALISED_PREFIX, help)
    ("busy_ratio", "busy_ratio", "Share of observed steps with demand above the capacity earlier plans held, "
     "per pool and window (1d, 7d)."),
    ("unmet_share", "unmet_ratio", "Unserved GPU demand over all GPU demand under earlier plans, per pool and window."),
    ("cost_ratio", "cost_ratio", "GPUs earlier plans held over the oracle's (just enough nodes), per pool and window."),
)
REALISED_FLAGGED = "1 if the pool's realised busy exceeded its target on too many of the last 7 days."


@dataclass
class JobMetrics:
    """What one nightly run reports.

    Parameters
    ----------
    start_time, end_time
        Unix seconds when the run started and ended.
    status
        ``"success"``, ``"partial"`` or ``"failure"``.
    last_success_time
        Unix seconds of the last run that ended in success or partial success (None if never).
    backtest_score
        Per pool, the champion's backtest error (e.g. MASE).
    planned_nodes_max
        Per pool, the most nodes the new plan holds over its horizon.
    fallback
        Per pool, 1 if the pool fell back to the fallback model or rule, else 0.
    step_seconds
        Per step of the job, its duration in seconds.
    realised
        Per pool, the earlier plans scored against the demand observed since: the ``pools`` mapping of the run's
        ``realised.json`` (:func:`capforecast.planning.realised.score_realised`).

    Examples
    --------
    >>> m = JobMetrics(start_time=100.0, end_time=160.0, status="success", last_success_time=160.0)
    >>> print(render(m).splitlines()[2])
    capforecast_nightly_last_run_timestamp_seconds 160.0
    """

    start_time: float
    end_time: float
    status: str
    last_success_time: float | None = None
    metric: str = "mase"
    backtest_score: Mapping[str, float] = field(default_factory=dict)
    planned_nodes_max: Mapping[str, int] = field(default_factory=dict)
    fallback: Mapping[str, int] = field(default_factory=dict)
    step_seconds: Mapping[str, float] = field(default_factory=dict)
    realised: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def registry(m: JobMetrics) -> CollectorRegistry:
    """The metrics of ``m`` as gauges in a new registry (families in a fixed order, optional ones when given)."""
    reg = CollectorRegistry()

    def family(name: str, help_text: str, labels: tuple[str, ...], samples: Sequence[tuple[tuple[str, ...], float]],
               prefix: str = PREFIX) -> None:
        gauge = Gauge(prefix + name, help_text, labels, registry=reg)
        for values, value in samples:
            (gauge.labels(*values) if labels else gauge).set(value)

    family("last_run_timestamp_seconds", "Unix time the last nightly run ended.", (), [((), m.end_time)])
    if m.last_success_time is not None:
        family("last_success_timestamp_seconds", "Unix time the last successful (or partial) run ended.", (),
               [((), m.last_success_time)])
    family("duration_seconds", "Wall time of the last nightly run.", (), [((), m.end_time - m.start_time)])
    family("status", "1 for the status of the last run (success, partial or failure).", ("status",),
           [((s,), float(s == m.status)) for s in ("success", "partial", "failure")])
    if m.step_seconds:
        family("step_duration_seconds", "Wall time of each step of the last run.", ("step",),
               [((k,), v) for k, v in m.step_seconds.items()])
    if m.backtest_score:
        family("backtest_error", "Champion's backtest error per pool (lower is better).", ("pool", "metric"),
               [((k, m.metric), v) for k, v in sorted(m.backtest_score.items())])
    if m.planned_nodes_max:
        family("planned_nodes_max", "Most nodes the new plan holds per pool over its horizon.", ("pool",),
               [((k,), v) for k, v in sorted(m.planned_nodes_max.items())])
    if m.fallback:
        family("pool_fallback", "1 if the pool fell back to the fallback model or rule in the last run.", ("pool",),
               [((k,), v) for k, v in sorted(m.fallback.items())])
    for key, name, help_text in REALISED:
        samples = [((pool, label), s[window][key]) for pool, s in sorted(m.realised.items())
                   for window, label in REALISED_WINDOWS.items() if s[window][key] is not None]
        if samples:
            family(name, help_text, ("pool", "window"), samples, prefix=REALISED_PREFIX)
    if m.realised:
        family("flagged", REALISED_FLAGGED, ("pool",),
               [((k,), float(bool(s["flagged"]))) for k, s in sorted(m.realised.items())], prefix=REALISED_PREFIX)
    return reg


def render(m: JobMetrics) -> str:
    """Return the metrics in the Prometheus text exposition format (``prometheus_client.generate_latest``)."""
    return generate_latest(registry(m)).decode("utf-8")


def write_textfile(path: str | os.PathLike[str], metrics: JobMetrics) -> Path:
    """Write ``metrics`` to ``path`` atomically, readable by node-exporter (mode 0644); return the path.

    An existing ``path`` is replaced only if capforecast wrote it (its first line is the one written here; see
    :func:`capforecast._owned.check_file`), else :class:`~capforecast.errors.OutputError` and nothing changes.
    """
    from capforecast._io import atomic_path
    from capforecast._owned import check_file

    path = Path(path)
    check_file(path)  # before any work: a folder, a symlink or a binary file there is never replaced
    with atomic_path(path, mode=0o644) as tmp:
        tmp.write_text(render(metrics), encoding="utf-8")
        check_file(path, tmp)  # a text file is capforecast's if it starts as this one does
    return path
